"""Registry fixtures: fresh MLflow + operational stores per test, copied from migrated templates.

Why templates: creating an MLflow SQLite database runs its migrations (~4 s) and the store's
Alembic upgrade costs about a second; copying two small files is instant, so every test gets
isolated stores without paying that each time.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_helpers import Stores, make_stores


@pytest.fixture(scope="session")
def store_templates(tmp_path_factory) -> tuple[Path, Path]:
    from mlflow import MlflowClient

    from candor.store import upgrade

    folder = tmp_path_factory.mktemp("templates")
    MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
    upgrade(f"sqlite:///{folder / 'candor.db'}")
    return folder / "mlflow.db", folder / "candor.db"


@pytest.fixture
def stores(tmp_path, store_templates) -> Stores:
    made = make_stores(tmp_path / "home", store_templates)
    yield made
    made.engine.dispose()


