"""Locating, verifying and loading registered artifacts; challenger-vs-champion comparison.

Why verification is here and not only in :mod:`candor.registry.artifact`: the registry records the
manifest's SHA-256 when a version is registered, and every later read (validate, compare, load)
pins the artifact to that hash, so an artifact edited in ``mlartifacts`` after registration — or
swapped on a tracking server — is refused before anything is unpickled.

Comparison basis (``compare``): challenger and champion are scored on the *challenger's* holdout,
the most recent one. When both versions were evaluated on the identical holdout (same start, end,
row count and label spec — the usual case when a series is retrained on unchanged data) their
stored holdout accuracies are compared directly. Otherwise, given the bars, both artifacts are
loaded and re-scored on the challenger's holdout rows; this is refused when the champion's own
training reached into that span (its holdout started later), since it would have seen those rows.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from candor.errors import RegistryError
from candor.registry.aliases import CHAMPION
from candor.registry.common import MANIFEST_SHA, VALIDATED, Comparison, model_name

if TYPE_CHECKING:
    from candor.registry.registry import Registry

_SPAN_TAGS = ("holdout_start", "holdout_end", "holdout_rows", "label_spec")


def local_path(source: str) -> Path | None:
    """The filesystem path of a ``file://`` or plain-path artifact source, else None."""
    parsed = urlparse(source)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and source[1:3] in (":\\", ":/")):
        return Path(source)
    return None


def check_logged_copy(source: str, manifest_sha256: str) -> None:
    """Refuse to register when the run's logged model is missing or differs from the artifact."""
    from candor.registry.artifact import MANIFEST_FILE, sha256_file

    path = local_path(source)
    if path is None:
        return  # remote artifact store: verified on every download instead
    manifest = path / MANIFEST_FILE
    if not manifest.exists():
        raise RegistryError(f"the run has no logged model at {source}; log it with candor.registry.tracking.log_training.")
    if sha256_file(manifest) != manifest_sha256:
        raise RegistryError(f"the run's logged model at {source} differs from the artifact being registered.")


def artifact_path(registry: Registry, mv: Any) -> Path:
    """Where the version's artifact is on disk: in place for a local store, else downloaded."""
    path = local_path(mv.source)
    if path is not None:
        if not path.exists():
            raise RegistryError(f"artifact of {mv.name} version {mv.version} is missing at {path}.")
        return path
    base = registry.cache_dir or Path(tempfile.mkdtemp(prefix="candor-model-"))
    target = base / mv.name / str(mv.version)
    target.mkdir(parents=True, exist_ok=True)
    return Path(registry.client.download_artifacts(mv.run_id, "model", str(target)))


def verified_manifest(registry: Registry, mv: Any) -> dict[str, Any]:
    """The version's manifest after checking every file against the hash recorded at registration."""
    from candor.registry.artifact import verify_artifact

    return verify_artifact(artifact_path(registry, mv), _expected_sha(mv))


def _expected_sha(mv: Any) -> str:
    sha = mv.tags.get(MANIFEST_SHA)
    if not sha:
        raise RegistryError(f"{mv.name} version {mv.version} has no {MANIFEST_SHA} tag; it was not registered "
                            "by candor and cannot be verified — refusing to load it.")
    return str(sha)


def load_verified(registry: Registry, mv: Any) -> Any:
    """A :class:`~candor.registry.artifact.CandorModel` for ``mv``, hash-checked before unpickling."""
    from candor.registry.artifact import load_model

    return load_model(artifact_path(registry, mv), _expected_sha(mv))


def train_hint(symbol: str, timeframe: str) -> str:
    """The retraining command for a series: ``--dataset NAME`` when it is an embedded dataset."""
    try:
        from candor.data import datasets
    except ImportError:  # pragma: no cover - data package always ships
        datasets = None
    for name, spec in getattr(datasets, "_SPECS", {}).items():
        if spec.symbol == symbol and spec.timeframe == timeframe:
            return f"candor train --dataset {name} --promote"
    return f"candor train --data PATH --symbol {symbol} --timeframe {timeframe} --promote"


def load_champion(registry: Registry, symbol: str, timeframe: str, *, max_age_days: int,
                  now: datetime, horizon: int | None = None) -> Any:
    """The champion of ``symbol/timeframe`` (at ``horizon``), verified and young enough to forecast with."""
    name = model_name(symbol, timeframe, horizon)
    hint = train_hint(symbol, timeframe)
    try:
        mv = registry.version(name, CHAMPION)
    except RegistryError:
        raise RegistryError(f"no champion for {symbol}/{timeframe} — run: {hint}") from None
    manifest = verified_manifest(registry, mv)
    created = datetime.fromisoformat(str(manifest["created_at"]))
    age_days = (now - created).days
    if age_days > max_age_days:
        raise RegistryError(f"champion of {symbol}/{timeframe} is {age_days} days old (max {max_age_days}); "
                            f"retrain: {hint}")
    return load_verified(registry, mv)


def compare_versions(registry: Registry, name: str, challenger: str | int, champion: str | int | None,
                     margin: float, bars: pd.DataFrame | None = None) -> Comparison:
    """Score challenger and champion on the challenger's holdout (see the module docstring)."""
    if not 0.0 <= margin < 1.0:
        raise RegistryError(f"`margin` must be in [0, 1). Got {margin!r}.")
    new = registry.version(name, challenger)
    new_acc = _stored_accuracy(new)
    try:
        old = registry.version(name, champion if champion is not None else CHAMPION)
    except RegistryError:
        if champion is not None:
            raise
        return Comparison(name, str(new.version), None, new_acc, None, margin,
                          new.tags.get("status") == VALIDATED, "no champion yet")
    if all(new.tags.get(t) == old.tags.get(t) for t in _SPAN_TAGS) and new.tags.get("holdout_start"):
        old_acc, basis = _stored_accuracy(old), (f"stored holdout accuracy on the identical holdout "
                                                 f"{new.tags['holdout_start']} .. {new.tags['holdout_end']}")
    elif bars is not None:
        new_acc, old_acc = rescore(registry, new, old, bars)
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


def rescore(registry: Registry, new: Any, old: Any, bars: pd.DataFrame) -> tuple[float, float]:
    """Accuracies of both models on the challenger's holdout rows that both can score."""
    from candor.labels import make_labels

    start, end = pd.Timestamp(new.tags["holdout_start"]), pd.Timestamp(new.tags["holdout_end"])
    if old.tags.get("holdout_start") and pd.Timestamp(old.tags["holdout_start"]) > start:
        raise RegistryError(f"champion version {old.version} was trained on rows after {start} "
                            f"(its holdout starts {old.tags['holdout_start']}); it cannot be scored honestly on "
                            "the challenger's holdout.")
    models = [load_verified(registry, mv) for mv in (new, old)]
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

