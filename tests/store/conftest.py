"""Store fixtures: every store test runs on SQLite *and* PostgreSQL.

``store_url`` and the PostgreSQL isolation (a fresh schema per test) live in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from candor.store import connect_store, upgrade
from candor.store.connect import Store


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated database behind a checked Store; pooled connections released afterwards."""
    upgrade(store_url)
    with connect_store(store_url) as connected:
        yield connected


@pytest.fixture
def engine(store: Store) -> Engine:
    return store.engine
