"""Where Optuna studies live: one RDB storage URL shared by every worker of a study.

Light on purpose (Optuna and SQLAlchemy, no scikit-learn): ``tune-worker`` processes started
together open the storage first, and a worker's start-up is paid once per process.
"""

from __future__ import annotations

import time

import optuna
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from candor.config import mask_urls, safe_uri
from candor.errors import StoreError

#: Tries at opening a storage whose tables another worker is creating at the same moment.
SCHEMA_RACE_ATTEMPTS = 5


def open_storage(url: str | None) -> optuna.storages.BaseStorage | None:
    """An Optuna RDB storage for ``url`` (None → in-memory studies); unreachable → StoreError."""
    if url is None:
        return None
    kwargs = {"connect_args": {"connect_timeout": 10}} if url.startswith("postgresql") else {}
    for attempt in range(SCHEMA_RACE_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True, **kwargs})
        except (sa_exc.IntegrityError, sa_exc.ProgrammingError):
            # Workers started together on an empty database all create Optuna's tables; the
            # losers hit duplicate-key / already-exists errors. The tables exist by then: retry.
            if attempt + 1 == SCHEMA_RACE_ATTEMPTS:
                raise _storage_error(url, "its tables could not be created") from None
            time.sleep(0.2 * (attempt + 1))
        except Exception as exc:  # noqa: BLE001 - driver errors vary; all mean "cannot use this storage"
            if isinstance(exc, RuntimeError) and _holds_candor_schema(url):
                raise StoreError(
                    f"`study_storage` {safe_uri(url)!r} is candor's operational database; Optuna keeps its own tables "
                    "and its own alembic_version there, so the study storage must be a separate database (e.g. "
                    "CREATE DATABASE candor_studies, then --study-storage postgresql+psycopg://…/candor_studies)."
                ) from None
            if not isinstance(exc, sa_exc.DBAPIError):  # a parse error quotes pieces of the URL, password included
                raise _storage_error(url, f"not a database URL SQLAlchemy can open: {type(exc).__name__}") from None
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise _storage_error(url, mask_urls(reason)) from None
    raise AssertionError("unreachable")


#: Tables of candor's operational store (candor.store.schema): a database holding them is not a study storage.
_CANDOR_TABLES = frozenset({"ohlc_bars", "ml_forecasts", "training_runs", "drift_monitoring"})


def _holds_candor_schema(url: str) -> bool:
    """Whether ``url`` is candor's operational database (both use an ``alembic_version`` table, so
    Optuna reads candor's revision as a schema of its own it does not know: "pip install -U optuna")."""
    try:
        engine = sa.create_engine(url)
        try:
            return bool(_CANDOR_TABLES & set(sa.inspect(engine).get_table_names()))
        finally:
            engine.dispose()
    except Exception:  # noqa: BLE001 - unreadable: not known to be candor's; the caller's error stands
        return False


def _storage_error(url: str, reason: str) -> StoreError:
    # a value with no scheme:// has no part safe_uri can tell from a password: show none of it
    shown = repr(safe_uri(url)) if "://" in url else "(not a URL; the value is not shown)"
    return StoreError(
        f"`study_storage` {shown} cannot be opened ({reason[:200]}). Fix: check the URL, "
        "that the database server is running and reachable, and that the database exists."
    )
