"""One wiring: every entry point reads the same home, databases, gates and age rule from the config.

Each test here is a regression test for a place where hand-made copies of the wiring had drifted
apart: the scheduled retrain's gates, ``candor registry`` ignoring a configured ``home``, the API
and the forecast job disagreeing on a stale champion, a horizon's config losing its ``api`` section.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from candor.api import create_app
from candor.cli import main
from candor.config import load_config
from candor.data.synthetic import planted_signal
from candor.ops.forecast import run_forecasts
from candor.ops.retrain import retrain_series
from candor.registry.gates import BacktestGate, MinimumMetricsGate, SignificantEdgeGate, default_gates
from candor.services import open_services
from candor.store import import_bars
from candor.training.runconfig import derive_run_config
from tests.registry.registry_helpers import log_run, make_artifact, report
from tests.templates import seed_home

CHEAP = {"models": {"models": ["logreg"]}, "split": {"folds": 3},
         "evaluation": {"importance_repeats": 0, "n_boot": 100}, "features": {"medium": 30, "long": 60}}


def test_configured_gates_are_the_registrys_gates(tmp_path, tmp_path_factory):
    seed_home(tmp_path, tmp_path_factory)  # migrated empty stores: opening them (migrate=True) builds nothing here
    config = load_config(environ={}, overrides={"home": str(tmp_path), "registry": {
        "min_accuracy": 0.7, "require_edge": False, "min_backtest_sharpe": 1.5}})
    gates = default_gates(config.registry)
    assert [type(g) for g in gates] == [MinimumMetricsGate, BacktestGate]
    assert gates[0].thresholds.min_accuracy == 0.7 and gates[1].thresholds.min_backtest_sharpe == 1.5
    with open_services(config, migrate=True) as services:
        assert services.registry.gates == gates
        assert services.registry.max_model_age_days == config.registry.max_model_age_days
    assert SignificantEdgeGate in [type(g) for g in default_gates(load_config(environ={}).registry)]


def test_the_scheduled_retrain_honours_every_configured_gate(tmp_path, tmp_path_factory):
    """It used to build its gates with hard-coded backtest defaults (0.5), ignoring the config."""
    seed_home(tmp_path, tmp_path_factory)  # migrated empty stores: the gates, not a new MLflow store, are the point
    lenient = {"min_accuracy": 0.0, "min_precision": 0.0, "min_recall": 0.0, "min_f1": 0.0, "require_edge": False,
               "min_backtest_trades": None, "min_deflated_sharpe": None}
    config = load_config(environ={}, overrides={**CHEAP, "home": str(tmp_path),
                                                "registry": {**lenient, "min_backtest_sharpe": 50.0}})
    bars = planted_signal(1000, seed=5, symbol="SYN")  # 600 rows after the 392-bar warm-up
    with open_services(config, migrate=True) as services:
        version = retrain_series(services, bars, 5)
    assert version.status == "failed" and not version.promoted
    assert any("backtest sharpe" in reason and "< 50.0" in reason for reason in version.gate_reasons)


def test_every_command_honours_home_and_tracking_from_candor_toml(tmp_path, monkeypatch, capsys):
    """`registry promote` ignored `home` in candor.toml, created ~/.candor and failed."""
    fake_user_home = tmp_path / "user"
    monkeypatch.setenv("HOME", str(fake_user_home))
    for name in ("CANDOR_HOME", "CANDOR_DATABASE_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    work, home, tracking = tmp_path / "work", tmp_path / "elsewhere", tmp_path / "tracking" / "mlflow.db"
    work.mkdir()
    (work / "candor.toml").write_text(f'home = "{home}"\ntracking_uri = "sqlite:///{tracking}"\n')
    monkeypatch.chdir(work)
    planted_signal(1200, seed=4, strength=1.0).to_csv(work / "plant.csv")
    code = main(["train", "--data", "plant.csv", "--symbol", "PLANT", "--timeframe", "d1", "--models", "logreg",
                 "--folds", "3", "--calendar", "24/7", "--fold-jobs", "1", "--output-json", "r.json"])
    assert code in (0, 2), capsys.readouterr().err
    assert json.loads((work / "r.json").read_text())["registry"]["version"] == "1"
    assert main(["registry", "promote", "PLANT/d1", "1", "--force", "--reason", "test"]) == 0
    assert "version 1 is now champion" in capsys.readouterr().out
    assert main(["registry", "list"]) == 0 and "candor.PLANT.d1" in capsys.readouterr().out
    assert main(["db", "current"]) == 0 and str(home / "candor.db") in capsys.readouterr().out
    assert (home / "candor.db").exists() and tracking.exists() and not (home / "mlflow.db").exists()
    assert not (fake_user_home / ".candor").exists()


def test_api_and_forecast_job_agree_on_a_stale_champion(tmp_path, tmp_path_factory):
    seed_home(tmp_path, tmp_path_factory)  # migrated empty stores (building MLflow's is not the point)
    config = load_config(environ={}, overrides={"home": str(tmp_path), "registry": {"max_model_age_days": 30},
                                                "forecast": {"gap_policy": "ignore"}})
    bars = planted_signal(300, seed=2, symbol="SPX")
    with open_services(config, migrate=True) as services:
        import_bars(services.engine, bars)
        artifact = make_artifact(tmp_path / "old", rep=report(), created_at=datetime.now(UTC) - timedelta(days=45))
        version = services.registry.register(log_run(services.tracking, artifact), artifact)
        services.registry.promote(version.name, version.version, force=True, actor="test")
        job = run_forecasts(services, symbols=["SPX"], timeframes=["d1"])
        (skip,) = job.skipped
        payload = {"symbol": "SPX", "timeframe": "d1", "bars": [
            {"ts": ts.isoformat(), **{c: float(row[c]) for c in ("open", "high", "low", "close", "volume")}}
            for ts, row in bars.iloc[-260:].iterrows()]}
        with TestClient(create_app(services)) as client:
            response = client.post("/api/predict", json=payload)
    assert "is 45 days old (max 30)" in skip.reason
    assert response.status_code >= 400 and response.json()["detail"] == skip.reason


def test_deriving_a_horizon_keeps_the_api_section_and_says_what_it_set():
    config = load_config(environ={"CANDOR_API_TOKEN": "tok"}, overrides={"registry": {"max_model_age_days": None}})
    run = derive_run_config(config, "SPX", "d1", horizon=20, horizon_source="forecast.horizons")
    assert run.config.api.token is not None and run.config.api.token.get_secret_value() == "tok"
    assert run.config.labels.horizon == 20 and run.config.purge == 20
    assert [(d.field, d.value, d.source) for d in run.derived] == [("labels.horizon", 20, "forecast.horizons")]
    with pytest.raises(Exception, match="purge"):
        derive_run_config(config.model_copy(update={"split": config.split.model_copy(update={"purge": 5})}),
                          "SPX", "d1", horizon=20)
