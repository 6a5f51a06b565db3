"""API fixtures: one real small training per session, copied per test when a test writes.

Why one training: a real ``run_training`` (logreg, 3 folds, 800 synthetic bars) fills the
store, the MLflow registry and the artifact exactly as production does, in ~10 s. Tests that
move aliases get their own copies of the two databases (the artifacts are read-only and shared).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.templates import seed_home

TOKEN = "s3cret-test-token"
OVERRIDES: dict[str, Any] = {
    "models": {"models": ("logreg",)}, "split": {"folds": 3}, "evaluation": {"importance_repeats": 1},
    "registry": {"min_accuracy": 0.0, "min_precision": 0.0, "min_recall": 0.0, "min_f1": 0.0},
}


@dataclass(frozen=True)
class Trained:
    home: Path
    bars: Any
    name: str
    symbol: str
    timeframe: str


def _config(home: Path, token: str | None = TOKEN) -> Any:
    from candor.config import load_config

    api = {"token": token} if token else {}
    return load_config(overrides={**OVERRIDES, "home": str(home), "api": api}, environ={})


def _seed_forecasts(engine: Any, model: Any, bars: Any, name: str, version: str) -> None:
    """Forecasts for the last 120 bars, all but the newest ``horizon`` resolved from the labels."""
    from candor.labels import CLASS_NAMES, make_labels
    from candor.store import Resolution, forecasts, resolve_forecasts, upsert_forecasts

    upsert_forecasts(engine, model.predict(bars, last=120), model_name=name, model_version=version)
    labels = make_labels(bars, model.label_spec)
    rows = forecasts(engine, bars.attrs["symbol"], bars.attrs["timeframe"])
    resolutions = [Resolution(r.id, CLASS_NAMES[int(labels.y.loc[r.bar_ts])],
                              None if labels.ret is None else float(labels.ret.loc[r.bar_ts]))
                   for r in rows if r.bar_ts in labels.y.index and r.horizon == model.label_spec.horizon]
    resolve_forecasts(engine, resolutions)


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Trained:
    from candor.data.synthetic import planted_signal
    from candor.services import open_services
    from candor.store import TrainingRun, latest_training_runs, record_training_run, upsert_drift_row
    from candor.application.train import run_training

    home = seed_home(tmp_path_factory.mktemp("api-home"), tmp_path_factory)  # migrated empty stores
    config = _config(home)
    bars = planted_signal(800, seed=1)
    outcome = run_training(bars, config, promote=True, actor="fixture")
    services = open_services(config)
    engine, registry = services.engine, services.registry
    first = outcome.registered
    # A second version of the same artifact (cheap) so that history, promote and rollback have two.
    second = registry.register(first.run_id, outcome.artifact)
    run = latest_training_runs(engine)[0]
    record_training_run(engine, **{c.name: getattr(run, c.name) for c in TrainingRun.__table__.columns
                                   if c.name not in ("id", "model_version")}, model_version=second.version)
    if not first.promoted:
        registry.promote(first.name, first.version, force=True, actor="fixture", reason="fixture: first champion")
    registry.validate(first.name, second.version)
    registry.promote(first.name, second.version, force=True, actor="fixture", reason="fixture: second champion")
    model = registry.champion(bars.attrs["symbol"], bars.attrs["timeframe"]).model
    _seed_forecasts(engine, model, bars, first.name, second.version)
    last = bars.index[-1]
    for days, status, accuracy in ((20, "normal", 0.55), (10, "monitor", 0.45), (0, "drift", 0.38)):
        judged = last - __import__("pandas").Timedelta(days=days)
        upsert_drift_row(engine, symbol=bars.attrs["symbol"], timeframe=bars.attrs["timeframe"], horizon=model.label_spec.horizon,
                         bar_ts=judged, date=judged.date(), n=40, status=status,
                         accuracy=accuracy, baseline=0.5, margin=accuracy - 0.5)
    services.close()
    return Trained(home, bars, first.name, bars.attrs["symbol"], bars.attrs["timeframe"])


@pytest.fixture(scope="session")
def horizons_home(trained, tmp_path_factory) -> Path:
    """The trained home plus a promoted horizon-1 model of the same series (``candor.PLANT.d1.h1``)
    with its own forecasts: the dashboard must show it under PLANT/d1, not as a series of its own."""
    from candor.config import load_config
    from candor.services import open_services
    from candor.application.train import run_training

    home = tmp_path_factory.mktemp("api-horizons")
    for name in ("candor.db", "mlflow.db"):
        shutil.copy(trained.home / name, home / name)
    config = load_config(overrides={**OVERRIDES, "home": str(home), "api": {"token": TOKEN},
                                    "labels": {"horizon": 1}}, environ={})
    outcome = run_training(trained.bars, config, promote=True, actor="fixture")
    with open_services(config) as services:
        registered = outcome.registered
        if not registered.promoted:
            services.registry.promote(registered.name, registered.version, force=True, actor="fixture",
                                      reason="fixture: horizon-1 champion")
        services.registry.register(registered.run_id, outcome.artifact)  # a v2 to promote and roll back
        model = services.registry.champion(trained.symbol, trained.timeframe, 1).model
        _seed_forecasts(services.engine, model, trained.bars, registered.name, registered.version)
    return home


def open_app(home: Path, token: str | None = TOKEN) -> tuple[Any, Any]:
    """A candor app on the services of ``home`` and those services (close them after use)."""
    from candor.api import create_app
    from candor.services import open_services

    services = open_services(_config(home, token))
    return create_app(services), services


@contextmanager
def serving(home: Path, token: str | None = TOKEN) -> Iterator[Any]:
    """A TestClient (lifespan entered) on the app of ``home``; its services closed afterwards."""
    from fastapi.testclient import TestClient

    app, services = open_app(home, token)
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        services.close()


@pytest.fixture
def client(trained):
    """A TestClient on the shared (read-only) trained stores."""
    with serving(trained.home) as test_client:
        yield test_client


@pytest.fixture
def writable_home(trained, tmp_path) -> Path:
    """Copies of the two databases; the artifacts they point at stay shared and unchanged."""
    home = tmp_path / "home"
    home.mkdir()
    for name in ("candor.db", "mlflow.db"):
        shutil.copy(trained.home / name, home / name)
    return home


@pytest.fixture
def writable_client(writable_home):
    with serving(writable_home) as test_client:
        yield test_client
