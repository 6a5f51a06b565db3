"""Shared fixtures for tuning tests: small synthetic data and the CI PostgreSQL server.

PostgreSQL: ``CANDOR_TEST_POSTGRES_URL`` (default local trust server); unreachable → skipped on
a developer machine, FAILED when ``CI`` is set. Study names are unique per test.
"""

from __future__ import annotations

import uuid

import pytest

@pytest.fixture(scope="session")
def small_data():
    """(bars, labelled data, config) for a 900-bar random walk (±1% labels); cheap models, 3 folds."""
    from candor.config import load_config
    from candor.data.synthetic import random_walk
    from candor.training.matrix import build_labelled_data

    config = load_config(None, {"models": {"models": ["logreg"]}, "split": {"folds": 3}, "labels": {"threshold": 0.01},
                                "evaluation": {"importance_repeats": 0, "n_boot": 100}}, environ={})
    bars = random_walk(900, seed=7, symbol="RWT")
    return bars, build_labelled_data(bars, config.features, config.labels), config


@pytest.fixture
def postgres_url(postgres_admin) -> str:
    """The test server itself (studies are isolated by unique names, not schemas)."""
    from tests.conftest import postgres_server_url

    return postgres_server_url()


@pytest.fixture
def study_name():
    return f"candor-test-{uuid.uuid4().hex[:12]}"


def session_bars(n: int, seed: int, symbol: str):
    """A random walk on XNYS session dates, so files load under the default calendar."""
    import exchange_calendars as xcals
    import pandas as pd

    from candor.data.synthetic import random_walk

    bars = random_walk(n, seed=seed, symbol=symbol)
    sessions = xcals.get_calendar("XNYS").sessions_in_range("2007-01-03", "2026-12-31")[:n]
    bars.index = pd.DatetimeIndex(sessions.tz_localize("UTC") if sessions.tz is None else sessions, name="ts")
    return bars
