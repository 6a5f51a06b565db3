"""Migration 0005 (drift rows keyed by the bar they judge): old rows migrate, a replay keeps its
history, the downgrade keeps each day's newest row; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from store_helpers import downgrade

from candor.store import drift_rows, upgrade, upsert_drift_row
from candor.store.engine import make_engine

OLD_ROW = ("INSERT INTO drift_monitoring (symbol, timeframe, date, n, status, details, created_at) "
           "VALUES ('SPX', 'd1', :day, 40, 'monitor', :details, :created)")


def test_0005_migrates_day_rows_and_keeps_a_replay(store_url: str) -> None:
    upgrade(store_url)
    engine = make_engine(store_url)
    try:
        downgrade(engine, "0004_shadow_forecasts")
        created = dt.datetime(2024, 3, 4, 18, tzinfo=dt.UTC)
        with engine.begin() as connection:  # two rows as earlier candor wrote them: one per date
            connection.execute(sa.text(OLD_ROW), {"day": dt.date(2024, 3, 4), "created": created,
                                                  "details": '{"horizon": 5, "horizons": [{"horizon": 1}, {"horizon": 5}]}'})
            connection.execute(sa.text(OLD_ROW), {"day": dt.date(2024, 3, 5), "created": created, "details": None})
        upgrade(store_url)
        old = drift_rows(engine, "SPX", "d1")
        assert [(r.date, r.horizon, r.bar_ts) for r in old] == [
            (dt.date(2024, 3, 4), 5, dt.datetime(2024, 3, 4, tzinfo=dt.UTC)),
            (dt.date(2024, 3, 5), 1, dt.datetime(2024, 3, 5, tzinfo=dt.UTC))]

        day = dt.date(2024, 3, 6)  # a replay of three bars on one day keeps three rows
        for k in range(3):
            upsert_drift_row(engine, symbol="SPX", timeframe="d1", horizon=5, date=day, n=k, status="normal",
                             bar_ts=dt.datetime(2024, 2, 1 + k, tzinfo=dt.UTC))
        assert [r.n for r in drift_rows(engine, "SPX", "d1") if r.date == day] == [0, 1, 2]

        downgrade(engine, "0004_shadow_forecasts")  # back to one row per date: that day's newest
        with engine.connect() as connection:
            kept = connection.execute(sa.text("SELECT date, n FROM drift_monitoring ORDER BY date")).all()
        assert [(str(d)[:10], n) for d, n in kept] == [("2024-03-04", 40), ("2024-03-05", 40), ("2024-03-06", 2)]
        assert "bar_ts" not in {c["name"] for c in sa.inspect(engine).get_columns("drift_monitoring")}
    finally:
        engine.dispose()
