"""Conformal sets and abstention (issue 24, item 1) through the forecast job, the API, the dashboard
and the Freqtrade signals, on the session's trained champion (no new training)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from candor.config import load_config
from candor.errors import ConfigError
from candor.ops.sets import NO_CALIBRATION, abstaining_rows, decide
from candor.records.report import ConformalCalibration, TrainingReport

from tests.api.conftest import OVERRIDES, TOKEN, open_app


def _config(home, **forecast):
    return load_config(overrides={**OVERRIDES, "home": str(home), "api": {"token": TOKEN},
                                  "forecast": {"gap_policy": "ignore", **forecast}}, environ={})


@pytest.mark.parametrize("coverage", [0.0, 1.0, 1.5, -0.1])
def test_coverage_outside_the_unit_interval_is_refused_in_one_line(tmp_path, coverage) -> None:
    with pytest.raises(ConfigError, match=r"`forecast.coverage` must be inside \(0, 1\)") as caught:
        _config(tmp_path, coverage=coverage)
    assert "\n" not in str(caught.value)


def test_decide_sets_notes_and_reasons() -> None:
    edge = {"oos": {"verdict": "significant edge"}}
    calibrated = TrainingReport.model_validate({**edge, "conformal": {"scores": list(np.linspace(0, 0.6, 99))}})
    settings = _config_settings()
    sure = decide({"BEARISH": 0.05, "NEUTRAL": 0.05, "BULLISH": 0.9}, calibrated, settings)
    assert sure.prediction_set == ("BULLISH",) and sure.abstain_reason is None and sure.alpha == pytest.approx(0.1)
    torn = decide({"BEARISH": 0.48, "NEUTRAL": 0.04, "BULLISH": 0.48}, calibrated, settings)
    assert torn.direction("BULLISH") == "NONE" and "holds 2 classes (BEARISH, BULLISH)" in torn.abstain_reason
    old = decide({"BULLISH": 0.9}, TrainingReport.model_validate(edge), settings)  # trained before report.conformal
    assert old.prediction_set is None and old.note == NO_CALIBRATION and old.abstain_reason is None
    no_edge = decide({"BEARISH": 0.05, "NEUTRAL": 0.05, "BULLISH": 0.9},
                     calibrated.model_copy(update={"oos": calibrated.oos.model_copy(update={"verdict": None})}), settings)
    assert no_edge.prediction_set == ("BULLISH",) and "no significant edge" in no_edge.abstain_reason
    # ACI: misses widen the next set (α falls), hits narrow it
    assert decide({"BULLISH": 0.9}, calibrated, settings, [True] * 10).alpha < 0.1
    assert abstaining_rows(np.array([[0.05, 0.05, 0.9], [0.45, 0.1, 0.45]]), ["BEARISH", "NEUTRAL", "BULLISH"],
                           calibrated, settings).tolist() == [False, True]


def test_wide_sets_can_be_information_instead_of_an_abstention() -> None:
    """``abstain_on_wide_sets = false``: the set is kept and shown, the model's direction served."""
    from candor.config import ForecastConfig

    calibrated = TrainingReport.model_validate({"oos": {"verdict": "significant edge"},
                                                "conformal": {"scores": list(np.linspace(0, 0.6, 99))}})
    settings = ForecastConfig(abstain_on_wide_sets=False)
    torn = decide({"BEARISH": 0.48, "NEUTRAL": 0.04, "BULLISH": 0.48}, calibrated, settings)
    assert torn.prediction_set == ("BEARISH", "BULLISH") and torn.abstain_reason is None
    assert torn.direction("BULLISH") == "BULLISH"
    assert abstaining_rows(np.array([[0.45, 0.1, 0.45]]), ["BEARISH", "NEUTRAL", "BULLISH"],
                           calibrated, settings).tolist() == [False]


def _config_settings():
    from candor.config import ForecastConfig

    return ForecastConfig()


def test_forecast_job_stores_sets_and_abstentions_and_the_api_and_pages_show_them(trained, writable_home) -> None:
    from fastapi.testclient import TestClient

    from candor.ops.forecast import run_forecasts
    from candor.services import open_services
    from candor.store import forecasts

    bars = trained.bars.iloc[:-130]  # the fixture already forecast the newest 120 bars
    config = _config(writable_home, coverage=0.99)
    with open_services(config) as services:
        champion = services.registry.champion(trained.symbol, trained.timeframe)
        calibration = champion.model.manifest.report.conformal
        assert isinstance(calibration, ConformalCalibration) and calibration.n >= 50  # newly trained: it has scores
        report = run_forecasts(services, symbols=[trained.symbol], timeframes=[trained.timeframe],
                               bars_loader=lambda s, tf: bars, now=dt.datetime.now(dt.UTC))
        assert report.written == 1, report.skipped
        item = report.forecasts[0]
        row = [r for r in forecasts(services.engine, trained.symbol, trained.timeframe) if r.bar_ts == bars.index[-1]][0]
    # at 99% coverage the set of a model this unsure holds more than one class: it abstains
    assert len(item.sets.prediction_set) > 1 and item.direction == "NONE"
    assert row.direction == "NONE" and row.prediction_set == list(item.sets.prediction_set)
    assert "conformal set holds" in row.abstain_reason and row.set_alpha == pytest.approx(0.01)
    assert trained.symbol not in report.consensus  # an abstention casts no vote

    app, services = open_app(writable_home)
    with TestClient(app) as client:
        listed = client.get("/api/forecasts", params={"symbol": trained.symbol, "limit": 5000}).json()
        stored = [r for r in listed if r["direction"] == "NONE"]
        assert len(stored) == 1 and stored[0]["prediction_set"] == row.prediction_set
        assert stored[0]["abstain_reason"] == row.abstain_reason
        page = client.get(f"/forecasts/{trained.symbol}/{trained.timeframe}").text
        assert 'id="abstentions"' in page and 'id="set-coverage"' in page
        bars_json = [{"ts": ts.isoformat(), **{k: float(v) for k, v in r.items()}}
                     for ts, r in trained.bars.iloc[-400:].iterrows()]
        answer = client.post("/api/predict", json={"symbol": trained.symbol, "timeframe": trained.timeframe,
                                                    "bars": bars_json},
                             headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert "direction" in answer, answer
        assert answer["prediction_set"] and answer["set_alpha"] == pytest.approx(0.1)  # the app's default coverage
        assert (answer["direction"] == "NONE") == (answer["abstain_reason"] is not None)
        assert answer["direction"] == "NONE" or answer["prediction_set"] == [answer["direction"]]
    services.close()


def test_freqtrade_signals_enter_no_trade_on_an_abstention(trained) -> None:
    from candor.freqtrade.signals import series_signals
    from candor.services import open_services

    frame = trained.bars.iloc[-500:].reset_index().rename(columns={"ts": "date"})
    with open_services(_config(trained.home)) as services:
        champion = services.registry.champion(trained.symbol, trained.timeframe)
        free = series_signals(champion, frame, "1d", min_confidence=None)
        held = series_signals(champion, frame, "1d", min_confidence=None, sets=_config(trained.home, coverage=0.99).forecast)
    abstained = held.direction == "NONE"
    assert abstained.any() and (held.position[abstained] == 0).all()
    assert (held.position[~abstained] == free.position[~abstained]).all()
    assert free.n_long > held.n_long
