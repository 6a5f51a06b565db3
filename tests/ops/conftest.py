"""Ops fixtures: SQLite and PostgreSQL stores, MLflow tracking per test, a local webhook server.

PostgreSQL: a fresh schema per test on ``CANDOR_TEST_POSTGRES_URL`` (default local trust server);
unreachable → skipped on a developer machine, FAILED when ``CI`` is set.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ops_helpers import Receiver, start_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got, server = start_receiver()
    yield got
    server.shutdown()
