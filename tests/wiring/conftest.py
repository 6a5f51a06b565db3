"""Homes for the bad-input tests: a snapshot to prove a refused command wrote nothing, and
session-scoped templates copied per test, so no test pays for a migration or an MLflow store.

- ``home``: a fresh ``<home>`` that does not exist yet (what a first command sees);
- ``migrated_home``: a copy of a home after ``candor db upgrade`` (candor.db at head, no MLflow
  store), for commands whose refusal must come before the services are opened: opening them would
  create ``mlflow.db``, which the snapshot catches;
- ``opened_home``: a copy of a home whose services were opened once (candor.db and mlflow.db), for
  refusals that need the stores' contents (no champion): reading them must change nothing. (Its
  MLflow experiment keeps the template's artifact location: a copy is for refusals, not trainings.)

:func:`tests.wiring.homes.snapshot` is what "nothing written" compares.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def _clean_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("CANDOR_HOME", str(home))
    for name in ("CANDOR_DATABASE_URL", "MLFLOW_TRACKING_URI", "CANDOR_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``<home>`` that does not exist yet; the working directory has no candor.toml."""
    folder = tmp_path / "home"
    _clean_env(monkeypatch, folder)
    monkeypatch.chdir(tmp_path)
    return folder


@pytest.fixture(scope="session")
def migrated_home_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home after ``candor db upgrade``, built once per session (per xdist worker)."""
    from candor.config import load_config
    from candor.services import ensure_home
    from candor.store import upgrade

    config = load_config(environ={}, overrides={"home": str(tmp_path_factory.mktemp("template") / "home")})
    ensure_home(config)
    upgrade(config.store_url)
    return config.home


@pytest.fixture(scope="session")
def opened_home_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home whose services were opened (candor.db at head, mlflow.db with candor's
    experiment), built once per session."""
    from candor.config import load_config
    from candor.services import open_services

    from tests.templates import seed_home

    # the run's migrated empty stores (built once for all workers), then candor's experiment in them
    home = seed_home(tmp_path_factory.mktemp("template") / "home", tmp_path_factory)
    config = load_config(environ={}, overrides={"home": str(home)})
    with open_services(config) as services:
        assert services.tracking.experiment_id  # MLflow's store opens on first use: open it here
    return config.home


def _copy(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    shutil.copytree(template, folder)
    _clean_env(monkeypatch, folder)
    monkeypatch.chdir(tmp_path)
    return folder


@pytest.fixture
def migrated_home(migrated_home_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _copy(migrated_home_template, tmp_path, monkeypatch)


@pytest.fixture
def opened_home(opened_home_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _copy(opened_home_template, tmp_path, monkeypatch)
