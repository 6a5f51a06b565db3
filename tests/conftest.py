"""Suite-wide fixtures: a scratch CANDOR_HOME per test, pinned threads, no network."""

from __future__ import annotations

import os

# Two pytest workers on two cores: each model fit gets one thread (see DEVELOPERS note on oversubscription).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def candor_home(tmp_path, monkeypatch):
    """Point everything candor writes at a per-test scratch folder."""
    home = tmp_path / "candor-home"
    home.mkdir()
    monkeypatch.setenv("CANDOR_HOME", str(home))
    return home
