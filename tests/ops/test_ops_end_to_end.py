"""train → promote → forecast → new bars → late labels → drift row → webhook alert → automatic rollback.

Runs on SQLite and PostgreSQL. The emergency is real, not faked in the tables: a broken model
(always NEUTRAL, about a fifth of ±0.6% labels) is promoted over a trained one, forecasts daily, and the monitor must see its
realised accuracy collapse below the baseline, alert, and roll the champion back to the trained
model.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import sqlalchemy as sa
from ops_helpers import AlwaysNeutral, day_after, register_estimator, tiny_config

from candor.data.synthetic import planted_signal
from candor.features.catalog import time_specs
from candor.ops.drift import _rollback_refusal, default_emergency, run_drift
from candor.ops.forecast import run_forecasts
from candor.ops.retrain import retrain_series
from candor.services import open_services
from candor.store import alias_events, drift_rows, forecasts, import_bars, load_bars
from tests.templates import seed_home

TRAIN_BARS, DAYS, H, THRESHOLD = 640, 24, 5, 0.006


def test_train_forecast_resolve_drift_alert_rollback(store_url, tmp_path, receiver, tmp_path_factory):
    seed_home(tmp_path / "home", tmp_path_factory)  # migrated empty MLflow store (the operational one is store_url)
    config = tiny_config(tmp_path / "home", store_url,
                         alerts={"webhook_url": receiver.url, "retries": 1, "backoff_s": 0, "on_emergency": "rollback",
                                 "rollback_cooldown_hours": 0},
                         # The sequential test tuned to see a 30-point collapse within these 24 days (a "year" of
                         # 24 forecasts, 20% false alarms, no thinning of the 5-bar windows, which would keep 5):
                         # this test checks the wiring; tests/ops/test_alarms.py simulates the rates.
                         drift={"min_samples": 10, "window": 30, "detect_drop": 0.3, "forecasts_per_year": DAYS,
                                "false_alarms_per_year": 0.2, "emergency_false_alarms_per_year": 0.2,
                                "thin_overlapping": False},
                         labels={"threshold": THRESHOLD})
    bars = planted_signal(TRAIN_BARS + DAYS + H, seed=3, symbol="SYN")
    with open_services(config, migrate=True) as services:
        engine, registry, tracking = services.engine, services.registry, services.tracking
        import_bars(engine, bars.iloc[:TRAIN_BARS])

        trained = retrain_series(services, load_bars(engine, "SYN", "d1"), H)
        assert trained.promoted and trained.name == "candor.SYN.d1"
        champion = registry.champion("SYN", "d1", H, now=day_after(bars))
        broken = register_estimator(registry, tracking, champion, AlwaysNeutral().fit(None, None),
                                    tmp_path / "broken")
        assert broken == "2"
        waiting = tiny_config(tmp_path / "home", store_url, alerts={"on_emergency": "rollback"})  # 24 h cool-down
        assert "cool-down" in _rollback_refusal(replace(services, config=waiting), "candor.SYN.d1")

        for day in range(DAYS):
            import_bars(engine, bars.iloc[: TRAIN_BARS + day + 1])
            stored = load_bars(engine, "SYN", "d1")
            report = run_forecasts(services, now=day_after(stored))
            assert report.written == 1 and not report.skipped, report.skipped
            assert report.consensus["SYN"].direction == "NEUTRAL" and report.consensus["SYN"].agreement == 1.0
        again = run_forecasts(services, now=day_after(stored))
        assert again.written == 0 and len(again.forecasts) == 1  # idempotent: same bar, no new row
        rows = forecasts(engine, "SYN", "d1")
        assert len(rows) == DAYS and {r.model_version for r in rows} == {"2"}
        assert all(r.realized_direction is None for r in rows)

        import_bars(engine, bars)  # the bars past every forecast's horizon arrive
        report = run_drift(services, now=day_after(bars))
        assert report.resolved == DAYS
        resolved = forecasts(engine, "SYN", "d1", resolved=True)
        assert len(resolved) == DAYS and all(r.realized_return is not None for r in resolved)
        _check_realised(resolved, bars)

        (row,) = drift_rows(engine, "SYN", "d1")
        assert row.status == "emergency" and row.n == DAYS
        assert row.accuracy < row.baseline - 0.10 and row.max_feature_psi is not None
        assert receiver.posts and "EMERGENCY" in receiver.posts[0]["text"]
        assert receiver.posts[0]["details"]["model_version"] == "2"

        (action,) = report.actions
        assert action.ok and action.action == "rollback", action
        assert str(registry.version("candor.SYN.d1", "champion").version) == "1"
        undo = default_emergency(services)(report.results[0], bars)  # as if v1 were judged an emergency too
        assert not undo.ok and "rolled back from" in undo.detail
        assert str(registry.version("candor.SYN.d1", "champion").version) == "1"
        events = alias_events(engine, "candor.SYN.d1")
        assert any(e.action == "auto_rollback" and e.actor == "candor drift" for e in events)
        calendar = {spec.name for spec in time_specs("d1")}
        assert calendar and not calendar & set(report.results[0].feature_psi)  # PSI of months is not drift

        # The restored champion is judged on its own forecasts only (it has none yet): no ping-pong.
        again = run_drift(services, now=day_after(bars))
        assert not again.actions and again.results[0].n == 0
        assert str(registry.version("candor.SYN.d1", "champion").version) == "1"


def _check_realised(resolved, bars) -> None:
    """Each realised direction is the ±0.6% five-bar label computed by hand from the closes."""
    close = bars["close"]
    for row in resolved:
        i = close.index.get_loc(pd.Timestamp(row.bar_ts))
        ret = close.iloc[i + H] / close.iloc[i] - 1
        expected = "BULLISH" if ret > THRESHOLD else "BEARISH" if ret < -THRESHOLD else "NEUTRAL"
        assert row.realized_direction == expected and abs(row.realized_return - ret) < 1e-12
