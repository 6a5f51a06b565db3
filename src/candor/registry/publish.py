"""``publish``: the one path that makes a finished model durable and governed.

Why one function: ``candor train``, the universe runner, the scheduler's retrain, the drift
monitor's emergency retrain and the weekly weights update must all do the same thing in the same
order — log the MLflow run, register a ``staged`` version, run the gates (``validated`` /
``failed``), write the ``training_runs`` row, and with ``promote`` compare the challenger with the
champion on the same rows by the paired test and move the alias only if it passed its gates and is
not significantly worse (its lift's CI not wholly below ``−margin``; :mod:`candor.registry.compare`).
A registry refusal during the promotion step is reported on the returned version (``note``), never
half-raised.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from pathlib import Path

import pandas as pd

from candor.errors import RegistryError
from candor.registry.common import PUBLISH_STATE, PUBLISHED, VALIDATED, RegisteredVersion
from candor.registry.registry import Registry
from candor.registry.tracking import Tracking, log_artifact_run, log_training, training_run_fields
from candor.records.manifest import Manifest
from candor.store import record_training_run

if TYPE_CHECKING:  # annotations only: importing the backtest engine loads numba (~0.3 s)
    from candor.backtest import BacktestResult


@dataclass(frozen=True)
class Candidate:
    """A saved artifact to publish: a fresh training (``manifest``: logged with its params,
    metrics and plots and recorded in ``training_runs``; ``backtest``: its equity plot and trades)
    or a model derived from a champion, such as the weekly weights update (``run_tags`` label its
    run; nothing is retrained)."""

    artifact: Path
    manifest: Manifest | None = None
    backtest: BacktestResult | None = None
    run_tags: Mapping[str, str] = field(default_factory=dict)
    #: Where the artifact will live once published, when it is published from a staging folder:
    #: renamed there once its version is registered and recorded.
    kept_at: Path | None = None
    #: Why this version must not count as validated whatever its report says (a derived model that
    #: could not be evaluated on rows it never saw): it is registered ``failed`` with this reason.
    not_validated: str | None = None


def publish(registry: Registry, tracking: Tracking, candidate: Candidate, *, promote: bool, actor: str,
            reason: str, margin: float = 0.0, bars: pd.DataFrame | None = None,
            force: bool = False, alpha: float = 0.05, n_boot: int = 1000) -> RegisteredVersion:
    """Log → register → validate → record → keep → (promote if validated and not significantly worse
    than the champion on the same rows: :mod:`candor.registry.compare`).

    Each step is safe under a kill: the run is created tagged with its writer's pid and
    ``publishing`` (:func:`candor.registry.tracking.owner_tags`) and tagged ``published`` only once
    its version is recorded and the staged artifact renamed to ``kept_at``; whatever a dead writer
    left in between is found and repaired by :mod:`candor.registry.repair`.

    Gate failures are not raised: the version comes back ``failed`` with ``gate_reasons``.
    ``bars`` let the comparison re-score both models on the challenger's holdout rows and test the
    difference (paired test, two-sided at ``alpha`` with ``n_boot`` resamples); the rule: promoted
    when validated and not significantly worse than the champion (:mod:`candor.registry.compare`). ``force`` (with
    ``promote``) skips only the comparison with the champion: a validated version is promoted
    through :meth:`Registry.promote` with ``force``, so the audit trail records ``force_promote``
    with ``actor`` and ``reason``; a version that failed its gates is still not promoted, and the
    hash checks of ``register`` and ``validate`` run as always.
    """
    if candidate.manifest is not None:
        run_id = log_training(candidate.manifest, candidate.backtest, candidate.artifact, tracking,
                              kept_at=candidate.kept_at)
    else:
        run_id = log_artifact_run(candidate.artifact, tracking, candidate.run_tags, kept_at=candidate.kept_at)
    staged = registry.register(run_id, candidate.artifact)
    version = registry.validate(staged.name, staged.version)
    if candidate.not_validated:
        version = registry.mark_failed(version.name, version.version, candidate.not_validated)
    if candidate.manifest is not None:
        record_training_run(registry.engine,
                            **training_run_fields(candidate.manifest, run_id, version.name, version.version))
    if candidate.kept_at is not None:
        os.replace(candidate.artifact, candidate.kept_at)
    # The run's publish is complete: from here on a kill can only interrupt an alias move, which
    # the audit trail rolls forward (``candor registry reconcile``).
    tracking.client.set_tag(run_id, PUBLISH_STATE, PUBLISHED)
    if not promote:
        return version
    if version.status != VALIDATED:
        return replace(version, note="not promoted: gates failed" + (
            " (--force skips only the champion comparison; `candor registry promote "
            f"{version.name} {version.version} --force` overrides the gates)" if force else ""))
    if force:
        return _force_promote(registry, version, actor, reason)
    return _promote_if_not_worse(registry, version, actor, reason, margin, bars, alpha, n_boot)


def _force_promote(registry: Registry, version: RegisteredVersion, actor: str, reason: str) -> RegisteredVersion:
    try:
        moved = registry.promote(version.name, version.version, force=True, actor=actor, reason=reason)
    except RegistryError as exc:
        return replace(version, note=f"not promoted: {exc}")
    return replace(version, promoted=True, note=f"promoted without the champion comparison (forced; {moved.note})")


def _promote_if_not_worse(registry: Registry, version: RegisteredVersion, actor: str, reason: str,
                          margin: float, bars: pd.DataFrame | None, alpha: float = 0.05,
                          n_boot: int = 1000) -> RegisteredVersion:
    try:
        result = registry.compare(version.name, version.version, margin=margin, promote=True, actor=actor,
                                  reason=reason, bars=bars, alpha=alpha, n_boot=n_boot)
    except RegistryError as exc:
        return replace(version, note=f"not promoted: {exc}")
    if result.promoted:
        return replace(version, promoted=True, note=f"promoted: {result.summary()}"
                       + ("" if result.champion is None else f" ({result.basis})"))
    if result.champion == result.challenger:
        return replace(version, note="already the champion")
    if result.tested:
        lost = f"not promoted: {result.summary()} ({result.basis})"
    else:
        lost = (f"not promoted: challenger holdout accuracy {result.challenger_accuracy:.3f} "
                f"is below champion {result.champion}'s ({result.champion_accuracy:.3f}) "
                f"by more than {margin} (stored accuracies, not tested: no bars to re-score)")
    return replace(version, note=lost + _shadowed(registry, version, actor))


def _shadowed(registry: Registry, version: RegisteredVersion, actor: str) -> str:
    """A validated challenger that lost the comparison runs as the model's shadow (the newest one
    replaces an older shadow): its live forecasts, not its training numbers, decide from here."""
    try:
        registry.shadow(version.name, version.version, replace=True, actor=actor,
                        reason="lost the champion comparison at training; compared on live forecasts from now on")
    except RegistryError as exc:
        return f"; not shadowed: {exc}"
    return f"; now the shadow of {version.name} (candor drift compares it with the champion on live forecasts)"
