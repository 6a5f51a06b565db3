"""Migrations: the schema they create, idempotence, refusing newer schemas, connect checks."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from candor.errors import StoreError
from candor.store import connect_store, current_revision, head_revision, upgrade
from candor.store.engine import make_engine
from candor.store.schema import Base

TABLES = {"symbols", "ohlc_bars", "training_runs", "ml_forecasts", "drift_monitoring", "alias_events"}


def _inspect(url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            yield inspector, connection
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_key_and_index(store_url: str) -> None:
    result = upgrade(store_url)
    assert (result.before, result.after) == (None, head_revision())
    for inspector, _ in _inspect(store_url):
        assert TABLES <= set(inspector.get_table_names())
        assert inspector.get_pk_constraint("ohlc_bars")["constrained_columns"] == ["symbol_id", "timeframe", "ts"]
        uniques = {t: [u["column_names"] for u in inspector.get_unique_constraints(t)] for t in TABLES}
        assert uniques["symbols"] == [["ticker"]]
        assert uniques["ml_forecasts"] == [["symbol", "timeframe", "horizon", "bar_ts", "shadow"]]
        assert uniques["drift_monitoring"] == [["symbol", "timeframe", "horizon", "bar_ts"]]
        indexes = {t: [i["column_names"] for i in inspector.get_indexes(t)] for t in TABLES}
        assert ["symbol", "timeframe", "bar_ts"] in indexes["ml_forecasts"]
        assert ["symbol", "timeframe", "run_date"] in indexes["training_runs"]
        assert ["model_name", "created_at"] in indexes["alias_events"]
        foreign = inspector.get_foreign_keys("ohlc_bars")[0]
        assert (foreign["referred_table"], foreign["constrained_columns"]) == ("symbols", ["symbol_id"])


def test_migrated_schema_matches_the_models(store_url: str) -> None:
    """Alembic's autogenerate finds nothing to change: migrations and models agree."""
    upgrade(store_url)
    for _, connection in _inspect(store_url):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_is_idempotent(store_url: str) -> None:
    first, second = upgrade(store_url), upgrade(store_url)
    assert first.changed and not second.changed
    assert second.before == second.after == head_revision() == current_revision(store_url)


def test_fresh_database_has_no_revision(store_url: str) -> None:
    assert current_revision(store_url) is None


def _stamp(url: str, revision: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_newer_schema_is_refused_by_upgrade_and_connect(store_url: str) -> None:
    upgrade(store_url)
    _stamp(store_url, "9999_from_the_future")
    message = (r"database schema is at revision 9999_from_the_future, newer than this candor "
               rf"\(head {head_revision()}\); upgrade candor")
    with pytest.raises(StoreError, match=message):
        upgrade(store_url)
    with pytest.raises(StoreError, match=message):
        connect_store(store_url)
    assert current_revision(store_url) == "9999_from_the_future"  # refused, not rewritten


def test_connect_store_requires_a_migrated_database(store_url: str) -> None:
    with pytest.raises(StoreError, match=r"has no candor schema; run: candor db upgrade"):
        connect_store(store_url)
    connect_store(store_url, require_schema=False).close()
    upgrade(store_url)
    with connect_store(store_url) as store:
        assert store.url == sa.engine.make_url(store_url).render_as_string(hide_password=True)


def test_query_on_unmigrated_database_says_to_upgrade(store_url: str) -> None:
    from candor.store import list_series

    engine = make_engine(store_url)
    try:
        with pytest.raises(StoreError, match=r"has no candor tables .*run: candor db upgrade"):
            list_series(engine)
    finally:
        engine.dispose()


def test_concurrent_upgrades_are_serialized(store_url: str) -> None:
    """Two `candor db upgrade` at once (e.g. scheduler and a user): both succeed, one migrates."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(upgrade, [store_url, store_url]))
    assert sorted(r.changed for r in results) == [False, True]
    assert current_revision(store_url) == head_revision()
