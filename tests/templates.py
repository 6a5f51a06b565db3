"""Empty, migrated stores built once per test run and copied into a home before a training.

Creating an MLflow SQLite store runs its ~50 Alembic migrations (4-8 s, more on a loaded
machine) and candor's store its own; a copy of the two files is instant. The template holds
only the schemas and MLflow's Default experiment: candor's experiment is created on first use by
the copy's own services, with its artifacts under that copy's home, exactly as on a fresh home.

Built once for the whole run, not once per xdist worker: the workers share the parent of their
base temp folder (pytest's documented pattern for a session fixture that runs once), and a file
lock lets the first worker build it while the other waits.

Tests whose point is what happens on a fresh home (the stores created by the command itself)
must not use this.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

STORE_FILES = ("mlflow.db", "candor.db")
_built: dict[Path, Path] = {}


def _build(folder: Path) -> None:
    from mlflow import MlflowClient

    from candor.store import upgrade

    shutil.rmtree(folder, ignore_errors=True)  # a build that died half-way
    folder.mkdir(parents=True)
    MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
    upgrade(f"sqlite:///{folder / 'candor.db'}")
    (folder / "complete").touch()


def migrated_stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(mlflow.db, candor.db) of this run's template, built on first use."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by this run's workers
    if root not in _built:
        folder = root / "candor-store-template"
        with open(root / "candor-store-template.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (folder / "complete").exists():
                _build(folder)
        _built[root] = folder
    folder = _built[root]
    return folder / STORE_FILES[0], folder / STORE_FILES[1]


def seed_home(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``home`` (created if missing) with copies of the migrated, empty stores; returns ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    for path in migrated_stores(tmp_path_factory):
        shutil.copy(path, home / path.name)
    return home
