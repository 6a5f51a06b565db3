"""What a killed publish leaves behind, found and repaired: staging folders, runs, versions.

:func:`candor.registry.publish.publish` runs log → register → validate → record → keep; a SIGKILL
can land between any two steps, and two databases and a file system admit no shared transaction.
So every piece a publish writes says who wrote it, and the next training of the series (or
``candor registry reconcile``) repairs what a dead writer left:

* **staging folders** — ``<name>.staging-<pid>`` (an artifact waiting for its publish) and
  ``.staging-<pid>-<random>`` (:func:`~candor.registry.artifact.save_model`'s temporary folder):
  a folder whose writer is dead is renamed into place when its version was registered, else
  removed;
* **MLflow runs** — created tagged with the writer's pid and host and ``publishing``
  (:func:`~candor.registry.tracking.owner_tags`), tagged ``published`` once the version is
  recorded and the artifact kept. A ``publishing`` run whose writer is dead (on this host) is
  marked ``KILLED`` when it was still ``RUNNING`` or never reached a version, and ``interrupted``;
* **model versions** of such a run — a training's version missing its ``training_runs`` row gets
  the row completed from the version's own (hash-verified) manifest, and a version the gates never
  judged (``staged``) is judged now; a version whose artifact cannot be verified, or a derived one
  (the weekly weights update) whose publish did not finish, is marked ``failed`` as incomplete so
  it is never promoted. A run still ``publishing`` also blocks promotion of its version
  (:meth:`Registry.promote`) until it is repaired.

Alias moves interrupted by a kill are the audit trail's business (:mod:`candor.registry.aliases`);
``candor registry reconcile`` runs both. Runs owned by another host are left alone (its pids mean
nothing here) and reported.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from candor.errors import RegistryError
from candor.registry.artifact import STAGING, staging_owner
from candor.registry.common import (
    ARCHIVED, INTERRUPTED, OWNER_HOST, OWNER_PID, PUBLISH_STATE, PUBLISHED, PUBLISHING, STAGED, STATUS,
)
from candor.registry.registry import Registry
from candor.registry.tracking import Tracking, training_run_fields
from candor.store import record_training_run
from candor.store.engine import open_connection, translate_errors
from candor.store.schema import TrainingRun

#: What a weights update that did not finish publishing is marked with.
INCOMPLETE = "incomplete: its publish was interrupted"


@dataclass(frozen=True)
class Repair:
    """One piece a dead writer left: what it is, what was found, what was done."""

    subject: str
    found: str
    done: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.found} — {self.done}"


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        pass
    return True


def sweep_staging(folder: Path, depth: int) -> list[Repair]:
    """Remove the staging folders ``depth`` levels under ``folder`` whose writer is dead: 3 under
    ``<home>/models`` (``<symbol>/<tf>/<name>``), 1 under ``--out``. Only that level is looked at —
    never every file of every stored model, never a folder whose name merely contains the marker."""
    found = []
    pattern = "/".join(["*"] * (depth - 1) + [f"*{STAGING}*"])
    for staging in sorted(folder.glob(pattern)) if folder.is_dir() else ():
        pid = staging_owner(staging.name)
        if staging.is_dir() and pid is not None and not alive(pid):
            shutil.rmtree(staging, ignore_errors=True)
            found.append(Repair(str(staging), f"staging folder of dead process {pid}", "removed"))
    return found


def repair_interrupted(registry: Registry, tracking: Tracking, *, symbol: str | None = None,
                       timeframe: str | None = None, folders: Sequence[tuple[Path, int]] = ()) -> list[Repair]:
    """Repair every publish of ``symbol``/``timeframe`` (all series when None) whose writer died, then
    sweep the abandoned staging folders under ``folders`` (``(folder, depth)``); return what was
    found and done (empty: nothing was left half-written)."""
    repairs: list[Repair] = []
    for run in _publishing_runs(tracking, symbol, timeframe):
        tags = run.data.tags
        if tags.get(OWNER_HOST) != socket.gethostname():
            repairs.append(Repair(f"run {run.info.run_id}", f"still publishing on host {tags.get(OWNER_HOST)}",
                                  "left alone (check it on that host)"))
            continue
        pid = tags.get(OWNER_PID, "")
        if pid.isdigit() and alive(int(pid)):
            continue  # in flight
        repairs += _repair_run(registry, tracking, run, pid)
    for folder, depth in folders:
        repairs += sweep_staging(Path(folder), depth)
    return repairs


def _publishing_runs(tracking: Tracking, symbol: str | None, timeframe: str | None) -> Iterable[Any]:
    query = [f"tags.`{PUBLISH_STATE}` = '{PUBLISHING}'"]
    for key, value in (("symbol", symbol), ("timeframe", timeframe)):
        if value is not None:
            query.append(f"tags.`{key}` = '{value}'")
    return tracking.client.search_runs([tracking.experiment_id], " and ".join(query), max_results=1000)


def _repair_run(registry: Registry, tracking: Tracking, run: Any, pid: str) -> list[Repair]:
    client, run_id, status = tracking.client, run.info.run_id, run.info.status
    subject = f"MLflow run {run_id}"
    versions = client.search_model_versions(f"run_id = '{run_id}'")
    repairs = []
    if not versions:
        if status in ("RUNNING", "SCHEDULED", "FINISHED"):
            client.set_terminated(run_id, "KILLED")
        client.set_tag(run_id, PUBLISH_STATE, INTERRUPTED)
        stage = "still RUNNING" if status in ("RUNNING", "SCHEDULED") else f"{status}, never registered"
        return [Repair(subject, f"{stage}, its writer (pid {pid}) is dead",
                       f"marked {'KILLED' if status != 'FAILED' else 'FAILED'} and {INTERRUPTED}")]
    if status in ("RUNNING", "SCHEDULED"):  # registered runs are finished first; kept for safety
        client.set_terminated(run_id, "KILLED")
        repairs.append(Repair(subject, f"still RUNNING, its writer (pid {pid}) is dead", "marked KILLED"))
    for mv in versions:
        repairs += _repair_version(registry, run, mv)
    repairs += _keep_staged_artifact(run, pid)
    client.set_tag(run_id, PUBLISH_STATE, PUBLISHED)
    if not repairs:
        repairs.append(Repair(subject, f"publish complete but not marked so (pid {pid} died)", f"marked {PUBLISHED}"))
    return repairs


def _repair_version(registry: Registry, run: Any, mv: Any) -> list[Repair]:
    subject = f"{mv.name} version {mv.version}"
    status = mv.tags.get(STATUS, STAGED)
    if status == ARCHIVED:
        return []
    try:
        manifest = registry.verified_manifest(mv)
    except RegistryError as exc:
        registry.mark_failed(mv.name, mv.version, f"{INCOMPLETE} ({exc})")
        return [Repair(subject, f"{status}, its artifact does not verify", "marked failed (incomplete)")]
    if manifest.weights_update is not None or run.data.tags.get("candor.job"):
        registry.mark_failed(mv.name, mv.version, f"{INCOMPLETE}: rerun the job that made it")
        return [Repair(subject, f"{status}, derived model whose publish did not finish", "marked failed (incomplete)")]
    repairs = []
    if not _has_row(registry, mv.name, str(mv.version)):
        record_training_run(registry.engine, **training_run_fields(manifest, run.info.run_id, mv.name, str(mv.version)))
        repairs.append(Repair(subject, "no training_runs row", "row completed from the version's manifest"))
    if status == STAGED:
        judged = registry.validate(mv.name, mv.version)
        repairs.append(Repair(subject, "never judged by the gates (staged)", f"gates run: {judged.status}"))
    return repairs


def _has_row(registry: Registry, name: str, version: str) -> bool:
    query = sa.select(sa.func.count(TrainingRun.id)).where(TrainingRun.model_name == name,
                                                           TrainingRun.model_version == version)
    with open_connection(registry.engine) as connection, translate_errors(registry.engine):
        return bool(connection.execute(query).scalar_one())


def _keep_staged_artifact(run: Any, pid: str) -> list[Repair]:
    """The staged artifact of a registered version, renamed to where its publish would have put it."""
    kept = run.data.tags.get("candor.artifact_dir")
    if not kept or not pid:
        return []
    target = Path(kept)
    staging = target.with_name(f"{target.name}{STAGING}{pid}")
    if not staging.is_dir() or target.exists():
        return []
    os.replace(staging, target)
    return [Repair(str(staging), "staged artifact of a registered version", f"moved into place at {target}")]


__all__ = ["INCOMPLETE", "Repair", "alive", "repair_interrupted", "sweep_staging"]
