"""``track_and_register``: the one call that makes a finished training durable and governed.

Why one function: ``candor train``, the scheduler and the universe runner must all do the same
thing in the same order — log the MLflow run, register a ``staged`` version, run the gates
(``validated`` / ``failed``), write the ``training_runs`` row, and with ``promote`` compare the
challenger with the champion and move the alias only if it is not worse by ``margin``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine

from candor.errors import ConfigError, RegistryError
from candor.registry.common import VALIDATED, RegisteredVersion
from candor.registry.gates import Gate
from candor.registry.registry import Registry


def track_and_register(
    outcome: Any,
    config: Any,
    *,
    engine: Engine,
    tracking_uri: str | None = None,
    promote: bool = False,
    actor: str | None = None,
    gates: Sequence[Gate] | None = None,
    margin: float = 0.0,
    bars: Any = None,
) -> RegisteredVersion:
    """Log, register, validate, record and (optionally) promote one :class:`TrainingOutcome`.

    ``tracking_uri`` is the caller's ``MLFLOW_TRACKING_URI`` (None: SQLite under
    ``config.home``). Gate failures are not raised: the returned version has ``status="failed"``
    and ``gate_reasons`` so the CLI can exit with code 2; ``promoted`` says whether the alias moved
    and ``note`` why not. ``bars`` lets ``compare`` re-score when the holdouts differ.
    """
    from candor.store import record_training_run
    from candor.registry.tracking import log_training, open_tracking, training_run_fields

    if outcome.artifact is None:
        raise ConfigError("a dry run saves no artifact, so there is nothing to track or register; "
                          "drop --dry-run.")
    tracking = open_tracking(config.home, tracking_uri)
    run_id = log_training(outcome.result, outcome.artifact, tracking)
    registry = Registry(tracking.client, engine, gates=gates)
    staged = registry.register(run_id, outcome.artifact)
    version = registry.validate(staged.name, staged.version)
    record_training_run(engine, **training_run_fields(outcome.result, run_id, version.name, version.version))
    if not promote:
        return version
    if version.status != VALIDATED:
        return _with(version, note="not promoted: gates failed")
    return _promote_if_better(registry, version, actor or "candor train", margin, bars)


def _promote_if_better(registry: Registry, version: RegisteredVersion, actor: str, margin: float,
                       bars: Any) -> RegisteredVersion:
    try:
        result = registry.compare(version.name, version.version, margin=margin, promote=True, actor=actor,
                                  reason="candor train --promote", bars=bars)
    except RegistryError as exc:
        return _with(version, note=f"not promoted: {exc}")
    if result.promoted:
        return _with(version, promoted=True, note=f"promoted ({result.basis})")
    return _with(version, note=(f"not promoted: challenger holdout accuracy {result.challenger_accuracy:.3f} "
                                f"is worse than champion {result.champion} ({result.champion_accuracy:.3f}) "
                                f"by more than {margin}"))


def _with(version: RegisteredVersion, **changes: Any) -> RegisteredVersion:
    return RegisteredVersion(**{**version.__dict__, **changes})
