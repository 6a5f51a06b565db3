"""training_runs, ml_forecasts, drift_monitoring and alias_events on both databases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from candor.registry.artifact import Forecast
from candor.errors import DataError
from candor.store import (
    Resolution, alias_events, drift_rows, forecasts, latest_training_runs, record_alias_event,
    record_training_run, resolve_forecast, resolve_forecasts, unresolved_forecasts, upsert_drift_row,
    upsert_forecasts,
)
from candor.store.schema import AliasEvent, MlForecast

UTC = dt.UTC
T0 = dt.datetime(2024, 3, 1, tzinfo=UTC)


def _count(engine: Engine, model) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())


# ---- training_runs ---------------------------------------------------------------------------

def test_training_run_round_trip_with_numpy_and_json(engine: Engine) -> None:
    run_id = record_training_run(
        engine, symbol="SPX", timeframe="d1", horizon=np.int64(5), oos_accuracy=np.float64(0.55),
        p_value=float("nan"), models=["rf", "lgbm"], weights={"rf": np.float64(0.25), "lgbm": 0.75},
        report={"folds": [{"acc": 0.5}, {"acc": np.nan}]}, mlflow_run_id="abc", model_version=3,
        run_date=T0,
    )
    (run,) = latest_training_runs(engine, "SPX", "d1")
    assert run.id == run_id and run.horizon == 5 and run.status == "completed"
    assert run.oos_accuracy == 0.55 and run.p_value is None
    assert run.models == ["rf", "lgbm"] and run.weights == {"rf": 0.25, "lgbm": 0.75}
    assert run.report == {"folds": [{"acc": 0.5}, {"acc": None}]}
    assert run.run_date == T0 and run.run_date.tzinfo is not None and run.model_version == "3"


def test_latest_training_runs_newest_first_and_filtered(engine: Engine) -> None:
    for day, symbol in [(1, "SPX"), (3, "SPX"), (2, "SPX"), (4, "QQQ")]:
        record_training_run(engine, symbol=symbol, timeframe="d1", horizon=5, run_date=T0 + dt.timedelta(days=day))
    runs = latest_training_runs(engine, "SPX", "d1")
    assert [r.run_date.day for r in runs] == [4, 3, 2]
    assert len(latest_training_runs(engine, limit=2)) == 2
    assert latest_training_runs(engine, "SPX", "d1", horizon=20) == []
    record_training_run(engine, symbol="QQQ", timeframe="d1", horizon=5, run_date=dt.datetime(2024, 4, 1, 12))
    assert latest_training_runs(engine, "QQQ")[0].run_date == dt.datetime(2024, 4, 1, 12, tzinfo=UTC)  # naive = UTC


def test_training_run_refuses_unknown_fields_and_missing_keys(engine: Engine) -> None:
    with pytest.raises(DataError, match=r"unknown training_runs field\(s\) accuracy; allowed: symbol"):
        record_training_run(engine, symbol="SPX", timeframe="d1", horizon=5, accuracy=0.5)
    with pytest.raises(DataError, match=r"missing required field\(s\) horizon"):
        record_training_run(engine, symbol="SPX", timeframe="d1")
    with pytest.raises(DataError, match=r"training_runs.lift must be a finite number"):
        record_training_run(engine, symbol="SPX", timeframe="d1", horizon=5, lift=float("inf"))
    assert latest_training_runs(engine) == []


# ---- ml_forecasts ----------------------------------------------------------------------------

def _forecast(bar_day: int, horizon: int = 5, direction: str = "bullish", **extra) -> dict:  # type: ignore[no-untyped-def]
    return {"symbol": "SPX", "timeframe": "d1", "horizon": horizon, "bar_ts": T0 + dt.timedelta(days=bar_day),
            "direction": direction, "prob_bearish": 0.2, "prob_neutral": 0.2, "prob_bullish": 0.6,
            "confidence": 0.6, "model_name": "candor.SPX.d1", "model_version": "1", **extra}


def test_forecasts_upsert_is_idempotent(engine: Engine) -> None:
    rows = [_forecast(d) for d in range(5)] + [_forecast(0, horizon=20)]
    assert upsert_forecasts(engine, rows) == 6
    assert upsert_forecasts(engine, rows) == 0
    assert upsert_forecasts(engine, rows + [_forecast(5)]) == 1
    assert _count(engine, MlForecast) == 7


def test_forecast_is_kept_unless_replaced_and_never_after_resolution(engine: Engine) -> None:
    upsert_forecasts(engine, [_forecast(0), _forecast(1)])
    assert upsert_forecasts(engine, [_forecast(0, direction="bearish", model_version="2")]) == 0
    assert [f.direction for f in forecasts(engine, "SPX", "d1")] == ["BULLISH", "BULLISH"]
    first = forecasts(engine, "SPX", "d1")[0]
    resolve_forecast(engine, first.id, "bearish", -0.01)
    again = [_forecast(0, direction="bearish", model_version="2"), _forecast(1, direction="bearish", model_version="2")]
    assert upsert_forecasts(engine, again, replace=True) == 1  # only the unresolved one
    stored = forecasts(engine, "SPX", "d1")
    assert [(f.direction, f.model_version) for f in stored] == [("BULLISH", "1"), ("BEARISH", "2")]


def test_forecast_dataclasses_with_probability_maps_and_defaults(engine: Engine) -> None:
    row = Forecast("SPX", "d1", 5, pd.Timestamp("2024-03-01"), "NEUTRAL",  # labels.CLASS_NAMES
                            {"BEARISH": 0.3, "NEUTRAL": 0.4, "BULLISH": 0.3}, 0.4)
    assert upsert_forecasts(engine, [row], model_name="candor.SPX.d1", model_version=7) == 1
    (stored,) = unresolved_forecasts(engine)
    assert (stored.direction, stored.prob_neutral, stored.model_version, stored.bar_ts) == ("NEUTRAL", 0.4, "7", T0)
    assert stored.generated_at.tzinfo is not None


def test_bad_forecast_batch_writes_nothing(engine: Engine) -> None:
    with pytest.raises(DataError, match=r"`direction` must be one of BEARISH, NEUTRAL, BULLISH, NONE. Got 'up'"):
        upsert_forecasts(engine, [_forecast(0), _forecast(1, direction="up")])
    with pytest.raises(DataError, match=r"two forecasts in one batch"):
        upsert_forecasts(engine, [_forecast(0), _forecast(0)])
    with pytest.raises(DataError, match=r"missing required field\(s\) model_version"):
        upsert_forecasts(engine, [{k: v for k, v in _forecast(0).items() if k != "model_version"}])
    with pytest.raises(DataError, match=r"ml_forecasts.confidence must be a finite number"):
        upsert_forecasts(engine, [_forecast(0, confidence=float("nan"))])
    assert _count(engine, MlForecast) == 0


def test_late_labels_resolve_each_forecast_once(engine: Engine) -> None:
    upsert_forecasts(engine, [_forecast(d) for d in range(4)])
    pending = unresolved_forecasts(engine, "SPX", "d1", bar_ts_before=T0 + dt.timedelta(days=2))
    assert [f.bar_ts.day for f in pending] == [1, 2]
    at = dt.datetime(2024, 3, 10, tzinfo=UTC)
    resolutions = [Resolution(f.id, "bearish", -0.02, at) for f in pending]
    assert resolve_forecasts(engine, resolutions) == 2
    assert resolve_forecasts(engine, resolutions) == 0  # harmless re-run
    done = forecasts(engine, "SPX", "d1", resolved=True)
    assert [(f.realized_direction, f.realized_return, f.resolved_at) for f in done] == [("BEARISH", -0.02, at)] * 2
    assert [f.bar_ts.day for f in unresolved_forecasts(engine)] == [3, 4]
    assert forecasts(engine, "SPX", "d1", resolved_since=at + dt.timedelta(seconds=1)) == []


def test_resolving_unknown_forecast_is_refused_before_writing(engine: Engine) -> None:
    upsert_forecasts(engine, [_forecast(0)])
    (known,) = unresolved_forecasts(engine)
    with pytest.raises(DataError, match=r"`realized_direction` must be one of BEARISH"):
        resolve_forecasts(engine, [Resolution(known.id, "sideways")])
    with pytest.raises(DataError, match=r"no forecast with id\(s\) 999999"):
        resolve_forecasts(engine, [Resolution(known.id, "bullish"), Resolution(999999, "bullish")])
    assert len(unresolved_forecasts(engine)) == 1


# ---- drift_monitoring ------------------------------------------------------------------------

def test_drift_row_is_unique_per_series_horizon_and_judged_bar(engine: Engine) -> None:
    day, bar = dt.date(2024, 3, 4), dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    later = dt.datetime(2024, 3, 2, tzinfo=dt.UTC)
    key = {"symbol": "SPX", "timeframe": "d1", "horizon": 5}
    first = upsert_drift_row(engine, **key, bar_ts=bar, date=day, n=40, status="normal",
                             accuracy=0.56, baseline=0.55, margin=0.01, details={"psi": {"rsi": 0.1}})
    second = upsert_drift_row(engine, **key, bar_ts=bar, date=day, n=41, status="drift",
                              accuracy=0.35, baseline=0.55, margin=-0.2, max_feature_psi=np.float64(0.3))
    upsert_drift_row(engine, **key, bar_ts=later, date=day, n=42, status="monitor")  # a replay: same day, new bar
    upsert_drift_row(engine, **{**key, "horizon": 1}, bar_ts=later, date="2024-03-05", n=7, status="normal")
    upsert_drift_row(engine, **{**key, "timeframe": "h1"}, bar_ts=bar, date=day, n=10, status="insufficient")
    assert first == second
    rows = drift_rows(engine, "SPX", "d1")
    assert [(r.bar_ts, r.horizon, r.status, r.n) for r in rows] == [
        (bar, 5, "drift", 41), (later, 1, "normal", 7), (later, 5, "monitor", 42)]
    assert rows[0].details is None and rows[0].max_feature_psi == 0.3 and rows[0].date == day
    assert [r.n for r in drift_rows(engine, since="2024-03-05")] == [7]
    with pytest.raises(DataError, match=r"`bar_ts` must be a timezone-aware time. Got"):
        upsert_drift_row(engine, **key, bar_ts=dt.datetime(2024, 3, 1), date=day, n=1, status="normal")


def test_drift_row_refuses_unknown_status(engine: Engine) -> None:
    with pytest.raises(DataError, match=r"`status` must be one of normal, monitor, drift, emergency"):
        upsert_drift_row(engine, symbol="SPX", timeframe="d1", horizon=1, bar_ts="2024-03-04T00:00Z",
                         date="2024-03-04", n=1, status="fine")
    assert drift_rows(engine) == []


# ---- alias_events ----------------------------------------------------------------------------

def test_alias_events_are_returned_oldest_first(engine: Engine) -> None:
    same_time = dt.datetime(2024, 3, 2, tzinfo=UTC)
    record_alias_event(engine, model_name="m", alias="champion", action="promote", from_version=None,
                       to_version=1, created_at=same_time, actor="ci")
    record_alias_event(engine, model_name="m", alias="champion", action="rollback", from_version=2,
                       to_version=1, reason="drift", created_at=same_time + dt.timedelta(hours=1))
    record_alias_event(engine, model_name="m", alias="champion", action="promote", from_version=1,
                       to_version=2, created_at=same_time, reason="tie broken by insertion order")
    record_alias_event(engine, model_name="other", alias="champion", action="promote", from_version=None, to_version=1)
    events = alias_events(engine, "m")
    assert [(e.action, e.from_version, e.to_version) for e in events] == [
        ("promote", None, "1"), ("promote", "1", "2"), ("rollback", "2", "1")]
    assert events[0].actor == "ci" and events[1].actor  # default actor is the OS user
    assert events[2].created_at == same_time + dt.timedelta(hours=1)
    assert alias_events(engine, "m", alias="previous") == []


def test_alias_event_action_is_checked_in_python_and_in_the_database(engine: Engine) -> None:
    with pytest.raises(DataError, match=r"`action` must be one of promote, rollback"):
        record_alias_event(engine, model_name="m", alias="champion", action="move", from_version=1, to_version=2)
    with engine.connect() as connection, pytest.raises(sa.exc.IntegrityError):
        connection.execute(sa.insert(AliasEvent).values(
            model_name="m", alias="champion", action="move", created_at=T0))
    assert alias_events(engine, "m") == []


def test_calls_can_share_one_caller_owned_transaction(engine: Engine) -> None:
    """Passing a Connection groups writes: a failure rolls all of them back."""
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as connection:
        record_alias_event(connection, model_name="m", alias="champion", action="promote",
                           from_version=None, to_version=1)
        upsert_forecasts(connection, [_forecast(0)])
        connection.execute(sa.text("SELECT * FROM no_such_table"))  # fails mid-way
    assert alias_events(engine, "m") == [] and _count(engine, MlForecast) == 0


def test_stored_directions_are_spelled_like_the_labels() -> None:
    from candor.labels import CLASS_NAMES
    from candor.store.forecasts import DIRECTIONS

    assert set(DIRECTIONS) == set(CLASS_NAMES.values())
