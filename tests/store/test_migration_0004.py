"""Migration 0004 (shadow forecasts, the ``shadow`` alias action): up and down on SQLite."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from store_helpers import downgrade

from candor.store import record_alias_event, upgrade, upsert_forecasts
from candor.store.engine import make_engine

ROW = {"symbol": "SPX", "timeframe": "d1", "horizon": 5, "bar_ts": dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
       "direction": "BULLISH", "confidence": 0.5, "model_name": "candor.SPX.d1", "model_version": "1"}


def test_0004_shadow_rows_coexist_and_downgrade_refuses_them(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'candor.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        assert upsert_forecasts(engine, [ROW, {**ROW, "model_version": "2", "shadow": True}]) == 2
        assert upsert_forecasts(engine, [ROW, {**ROW, "shadow": True}]) == 0  # insert-or-keep per (bar, shadow)
        record_alias_event(engine, model_name="candor.SPX.d1", alias="shadow", action="shadow",
                           from_version=None, to_version="2")
        with pytest.raises(sa.exc.IntegrityError):  # the check constraint survived the batch rebuild
            with engine.begin() as connection:
                connection.execute(sa.text("INSERT INTO alias_events (model_name, alias, action, created_at) "
                                           "VALUES ('m', 'a', 'bogus', '2024-01-01')"))
        with pytest.raises(RuntimeError, match="1 shadow forecast"):
            downgrade(engine, "0003_forecast_sets")
        with engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM ml_forecasts WHERE shadow"))
            connection.execute(sa.text("DELETE FROM alias_events"))
        downgrade(engine, "0003_forecast_sets")
        assert "shadow" not in {c["name"] for c in sa.inspect(engine).get_columns("ml_forecasts")}
        upgrade(url)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT shadow FROM ml_forecasts")).scalar_one() in (0, False)
    finally:
        engine.dispose()
