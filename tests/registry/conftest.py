"""Registry fixtures: fresh MLflow + operational stores per test, copied from migrated templates.

Why templates: creating an MLflow SQLite database runs its migrations (~4 s) and the store's
Alembic upgrade costs about a second; copying two small files is instant, so every test gets
isolated stores without paying that each time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_helpers import Stores, make_stores

from tests.templates import migrated_stores


@pytest.fixture(scope="session")
def store_templates(tmp_path_factory) -> tuple[Path, Path]:
    """(mlflow.db, candor.db): the run's migrated empty stores (:mod:`tests.templates`, built once
    for all xdist workers)."""
    return migrated_stores(tmp_path_factory)


@pytest.fixture
def stores(tmp_path, store_templates) -> Stores:
    made = make_stores(tmp_path / "home", store_templates)
    yield made
    made.engine.dispose()


