"""Challenger against champion on one holdout: the evidence a promotion rests on.

Comparison basis: challenger and champion are scored on the *challenger's* holdout, the most
recent one. When both versions were evaluated on the identical holdout (same start, end, row count
and label spec — the usual case when a series is retrained on unchanged data) their stored holdout
accuracies are compared directly. Otherwise, given the bars, both artifacts are loaded and
re-scored on the challenger's holdout rows; this is refused when the champion's own training
reached into that span (its holdout started later), since it would have seen those rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from candor.errors import ConfigError, NotFoundError, RegistryError
from candor.labels import make_labels
from candor.registry.aliases import CHAMPION
from candor.registry.artifact import CandorModel
from candor.registry.common import VALIDATED, Comparison

_SPAN_TAGS = ("holdout_start", "holdout_end", "holdout_rows", "label_spec")

#: ``(name, version or alias) -> ModelVersion`` and ``ModelVersion -> verified model``.
VersionLookup = Callable[[str, "str | int"], Any]
ModelLoader = Callable[[Any], CandorModel]


def check_margin(margin: float) -> float:
    """The tolerated accuracy loss of a challenger: in [0, 1), else :class:`ConfigError`."""
    if not 0.0 <= margin < 1.0:
        raise ConfigError(f"`margin` must be in [0, 1). Got {margin!r}.")
    return margin


def compare_versions(lookup: VersionLookup, load: ModelLoader, name: str, challenger: str | int,
                     champion: str | int | None, margin: float, bars: pd.DataFrame | None = None) -> Comparison:
    """Score challenger and champion on the challenger's holdout (see the module docstring)."""
    check_margin(margin)
    new = lookup(name, challenger)
    new_acc = _stored_accuracy(new)
    try:
        old = lookup(name, champion if champion is not None else CHAMPION)
    except NotFoundError:
        if champion is not None:
            raise
        return Comparison(name, str(new.version), None, new_acc, None, margin,
                          new.tags.get("status") == VALIDATED, "no champion yet")
    if all(new.tags.get(t) == old.tags.get(t) for t in _SPAN_TAGS) and new.tags.get("holdout_start"):
        old_acc, basis = _stored_accuracy(old), (f"stored holdout accuracy on the identical holdout "
                                                 f"{new.tags['holdout_start']} .. {new.tags['holdout_end']}")
    elif bars is not None:
        new_acc, old_acc = rescore(load, new, old, bars)
        basis = f"re-scored on the challenger's holdout {new.tags.get('holdout_start')} .. {new.tags.get('holdout_end')}"
    else:
        raise RegistryError(
            f"cannot compare {name} version {new.version} with version {old.version} on the same holdout: "
            f"their holdouts differ ({_span(new)} vs {_span(old)}); pass the bars to re-score both."
        )
    wins = new.tags.get("status") == VALIDATED and new_acc >= old_acc - margin
    return Comparison(name, str(new.version), str(old.version), new_acc, old_acc, margin, wins, basis)


def _span(mv: Any) -> str:
    return f"{mv.tags.get('holdout_start', '?')} .. {mv.tags.get('holdout_end', '?')}, {mv.tags.get('label_spec', '?')}"


def _stored_accuracy(mv: Any) -> float:
    value = mv.tags.get("holdout_accuracy")
    if value is None:
        raise RegistryError(f"{mv.name} version {mv.version} has no holdout_accuracy tag to compare.")
    return float(value)


def rescore(load: ModelLoader, new: Any, old: Any, bars: pd.DataFrame) -> tuple[float, float]:
    """Accuracies of both models on the challenger's holdout rows that both can score."""

    start, end = pd.Timestamp(new.tags["holdout_start"]), pd.Timestamp(new.tags["holdout_end"])
    if old.tags.get("holdout_start") and pd.Timestamp(old.tags["holdout_start"]) > start:
        raise RegistryError(f"champion version {old.version} was trained on rows after {start} "
                            f"(its holdout starts {old.tags['holdout_start']}); it cannot be scored honestly on "
                            "the challenger's holdout.")
    models = [load(mv) for mv in (new, old)]
    if models[0].label_spec != models[1].label_spec:
        raise RegistryError(f"versions {new.version} and {old.version} predict different labels "
                            f"({models[0].label_spec} vs {models[1].label_spec}); they cannot be compared.")
    y = make_labels(bars, models[0].label_spec).y
    frames = [m.features(bars) for m in models]
    rows = y.index[(y.index >= start) & (y.index <= end)]
    rows = rows[np.logical_and.reduce([f.reindex(rows).notna().all(axis=1).to_numpy() for f in frames])]
    if len(rows) == 0:
        raise RegistryError(f"the bars hold none of the challenger's holdout rows ({start} .. {end}).")
    truth = y.loc[rows].to_numpy()
    scores = [float(np.mean(m.estimator.predict(f.loc[rows]) == truth)) for m, f in zip(models, frames)]
    return scores[0], scores[1]

