"""Shared settings for the honesty suite: the real pipeline, made cheap (logistic member, 4 folds)."""

from __future__ import annotations

import pytest

from candor.config import Config, load_config

SEEDS = range(20)
BARS = 2000


@pytest.fixture(scope="session")
def cheap_config() -> Config:
    """Same code path as `candor train`; only the member and the bootstrap size are smaller."""
    return load_config(environ={}, overrides={
        "models": {"models": ("logreg",)},
        "split": {"folds": 4},
        "evaluation": {"n_boot": 500, "importance_repeats": 0},
    })
