"""The one champion loader's pieces: what a loaded champion is, and the batched champion lookup.

Why a single loader (:meth:`candor.registry.Registry.champion`) for the forecast job, drift, the
weekly update and the web API: they must agree on which version serves and whether it is still
young enough to (``registry.max_model_age_days``; ``None`` = no limit). Before there was one,
the API and the forecast job read two different age settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from candor.errors import RegistryError
from candor.registry.aliases import CHAMPION
from candor.registry.common import MANIFEST_SHA
from candor.registry.artifact import CandorModel


@dataclass(frozen=True)
class Champion:
    """A verified champion model and what identifies it (``ml_forecasts`` rows, drift, the API)."""

    model: CandorModel
    name: str
    version: str
    horizon: int
    tags: dict[str, str] = field(default_factory=dict)


def pages(search: Callable[..., Any], **kwargs: Any) -> list[Any]:
    """Every result of a paged MLflow search (``search_*`` stop at one page of 1,000 otherwise)."""
    items, token = [], None
    while True:
        page = search(max_results=1000, page_token=token, **kwargs)
        items += list(page)
        token = getattr(page, "token", None)
        if not token:
            return items


def champion_index(client: Any) -> dict[str, Any]:
    """Registered name → champion ``ModelVersion`` for every candor model, in one paged query
    when every champion is its model's newest version, two otherwise.

    Why: looking each champion up separately costs two registry round trips per series (~20 ms on
    a local SQLite MLflow), which dominated a 500-series forecast job. The model search already
    returns each model's newest version with its tags; a champion that is an older version (after
    a rollback), or a newest version returned without candor's tags, is read from the version
    search instead.
    """
    models = pages(client.search_registered_models, filter_string="name LIKE 'candor.%'")
    wanted = {m.name: str(m.aliases[CHAMPION]) for m in models if CHAMPION in m.aliases}
    index = {}
    for model in models:
        newest = next((mv for mv in model.latest_versions or ()
                       if str(mv.version) == wanted.get(model.name) and MANIFEST_SHA in (mv.tags or {})), None)
        if newest is not None:
            index[model.name] = newest
    if len(index) < len(wanted):
        for mv in pages(client.search_model_versions, filter_string="name LIKE 'candor.%'"):
            if mv.name not in index and wanted.get(mv.name) == str(mv.version):
                index[mv.name] = mv
    return index


def check_age(model: CandorModel, label: str, max_age_days: int | None, now: datetime, hint: str) -> None:
    """Refuse a champion older than ``max_age_days`` (None: any age serves)."""
    if max_age_days is None:
        return
    age_days = (now - model.created_at).days
    if age_days > max_age_days:
        raise RegistryError(f"champion of {label} is {age_days} days old (max {max_age_days}); retrain: {hint}")
