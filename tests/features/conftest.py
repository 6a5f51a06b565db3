"""Shared bar fixtures for the feature tests (module-scoped: loading is the slow part)."""

from __future__ import annotations

import pytest

from candor.data.datasets import load_dataset
from candor.data.synthetic import random_walk


@pytest.fixture(scope="session")
def sp500():
    """S&P 500 daily, last 1,200 sessions (enough for the 200-bar and weekly warm-ups)."""
    bars = load_dataset("sp500")
    return bars.iloc[-1200:]


@pytest.fixture(scope="session")
def aapl_h1():
    return load_dataset("aapl_h1")


@pytest.fixture(scope="session")
def walk_h1():
    return random_walk(1500, seed=7, timeframe="h1")
