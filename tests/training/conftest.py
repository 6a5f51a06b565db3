"""Fixtures for training tests: small synthetic bar files and a cheap but complete config."""

from __future__ import annotations

import pytest

from candor.config import load_config
from candor.data.synthetic import planted_signal, random_walk

CHEAP = ["--models", "logreg", "--folds", "3", "--calendar", "24/7", "--fold-jobs", "1"]


@pytest.fixture(scope="session")
def planted_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("bars") / "plant.csv"
    planted_signal(1200, seed=4, strength=1.0).to_csv(path)
    return path


@pytest.fixture(scope="session")
def walk_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("bars") / "walk.csv"
    random_walk(1200, seed=5).to_csv(path)
    return path


@pytest.fixture
def cheap_config():
    return load_config(environ={}, overrides={
        "models": {"models": ("logreg",)}, "split": {"folds": 3},
        "evaluation": {"n_boot": 300, "importance_repeats": 1},
    })


@pytest.fixture(scope="session")
def saved(tmp_path_factory):
    """One real small training saved as an artifact (not tracked), shared by the artifact and
    manifest tests: (outcome, bars)."""
    from candor.application.train import run_training

    config = load_config(environ={}, overrides={
        "models": {"models": ("logreg",)}, "split": {"folds": 3},
        "evaluation": {"n_boot": 200, "importance_repeats": 1},
    })
    bars = planted_signal(1000, seed=8, strength=1.0)
    outcome = run_training(bars, config, out=tmp_path_factory.mktemp("models"), track=False)
    return outcome, bars
