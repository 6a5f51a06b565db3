"""Child process for the SIGKILL test: promote and roll back one model in a tight loop, forever.

Lives in its own importable module so the forkserver can preload it (and MLflow) once; every
child is then a cheap fork that has never opened a database the parent holds.
"""

from __future__ import annotations

import functools
import os
import random
from typing import Any

import mlflow.store.db.utils as _db_utils
import mlflow.store.model_registry.sqlalchemy_store  # noqa: F401  (imported once, in the forkserver)
import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
import mlflow.tracking.client  # noqa: F401

# MLflow re-parses its ~70 migration files (0.6 s) on every client to find the schema head; the
# head cannot change inside one test run, so compute it once in the forkserver before forking.
_db_utils._get_latest_schema_revision = functools.cache(_db_utils._get_latest_schema_revision)
_db_utils._get_latest_schema_revision()

VALIDATED_VERSIONS = ("1", "2", "3")


def _warm_up() -> None:
    """Run one promote on throwaway copies of the stores, in the forkserver, before any fork.

    The first query of each kind costs SQLAlchemy/MLflow ~0.5 s of one-off set-up (mapper
    configuration, statement compilation); paying it here once makes every child start in
    ~0.1 s. The copies have their own URIs, so no child ever touches these engines.
    """
    mlflow_db, store_db = os.environ.get("CANDOR_KILL_WARM_MLFLOW"), os.environ.get("CANDOR_KILL_WARM_STORE")
    if not (mlflow_db and store_db):
        return
    from candor.registry import Registry
    from candor.store import make_engine

    registry = Registry(f"sqlite:///{mlflow_db}", make_engine(f"sqlite:///{store_db}"))
    registry.promote("candor.SPX.d1", "3", actor="warm-up")
    registry.rollback("candor.SPX.d1", actor="warm-up")


_warm_up()


def churn(mlflow_uri: str, db_url: str, name: str, seed: int, ready: Any, ops: Any) -> None:
    """Signal ``ready`` once connected, then move aliases until killed; ``ops`` counts completions."""
    from candor.registry import CHAMPION, PREVIOUS, Registry
    from candor.store import make_engine

    registry = Registry(mlflow_uri, make_engine(db_url))
    rng = random.Random(seed)
    registry.client.get_registered_model(name)
    ready.set()
    while True:
        aliases = {k: str(v) for k, v in registry.client.get_registered_model(name).aliases.items()}
        if PREVIOUS in aliases and rng.random() < 0.4:
            registry.rollback(name, actor="churn", reason=f"kill test {seed}")
        else:
            target = rng.choice([v for v in VALIDATED_VERSIONS if v != aliases.get(CHAMPION)])
            registry.promote(name, target, actor="churn", reason=f"kill test {seed}")
        ops.value += 1
