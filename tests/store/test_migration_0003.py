"""Migration 0003 (conformal sets and abstentions on ml_forecasts): up and down on SQLite."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from store_helpers import downgrade

from candor.store import upgrade, upsert_forecasts
from candor.store.engine import make_engine

NEW = {"prediction_set", "set_alpha", "abstain_reason"}


def _columns(engine: sa.Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("ml_forecasts")}


def test_0003_up_and_down_on_sqlite(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'candor.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        assert NEW <= _columns(engine)
        row = {"symbol": "SPX", "timeframe": "d1", "horizon": 5, "bar_ts": dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
               "direction": "none", "confidence": 0.5, "model_name": "candor.SPX.d1", "model_version": "1",
               "prediction_set": ["bearish", "BULLISH"], "set_alpha": 0.1, "abstain_reason": "set of 2 classes"}
        assert upsert_forecasts(engine, [row]) == 1
        with pytest.raises(RuntimeError, match="1 abstention"):
            downgrade(engine, "0002_trial_ledger")
        assert NEW <= _columns(engine)  # nothing half-done
        with engine.begin() as connection:
            stored = connection.execute(sa.text("SELECT direction, prediction_set FROM ml_forecasts")).one()
            assert stored[0] == "NONE" and "BEARISH" in stored[1]
            connection.execute(sa.text("DELETE FROM ml_forecasts"))
        downgrade(engine, "0002_trial_ledger")
        assert not NEW & _columns(engine)
        assert {"direction", "resolved_at"} <= _columns(engine)
        upgrade(url)
        assert NEW <= _columns(engine)
    finally:
        engine.dispose()
