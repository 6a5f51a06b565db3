"""Tracking + publish end to end on one real (tiny) training: run contents, row, registry, loading."""

from __future__ import annotations

import shutil

import pytest

from candor.config import Config
from candor.registry import GateSpec, MinimumMetricsGate, Registry, default_gates
from candor.registry.artifact import verify_artifact
from candor.registry.publish import Candidate, publish
from candor.config import safe_uri
from candor.registry.tracking import Tracking, config_params, open_tracking
from candor.store import latest_training_runs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from candor.data.synthetic import planted_signal
    from candor.application.train import run_training

    home = tmp_path_factory.mktemp("train-home")
    bars = planted_signal(n=900, seed=3)
    config = Config(home=home, models={"models": ("logreg",)}, split={"folds": 2},
                    evaluation={"n_boot": 100, "importance_repeats": 1})
    return bars, config, run_training(bars, config, track=False)


def _publish(outcome, stores, *, gates=None, promote=True):
    registry = Registry(stores.client, stores.engine, gates=gates if gates is not None else default_gates())
    tracking = Tracking(stores.client, stores.uri, stores.experiment_id)
    return publish(registry, tracking, Candidate(outcome.artifact, verify_artifact(outcome.artifact), outcome.result.backtest), promote=promote, actor="ci",
                   reason="test")


def test_tracking_uri_default_env_and_password_hiding(tmp_path):
    home = tmp_path / "h"
    assert Config(home=home).tracking_store == f"sqlite:///{home.resolve() / 'mlflow.db'}"
    assert Config(home=home, tracking_uri="http://mlflow:5000").tracking_store == "http://mlflow:5000"
    assert Config(home=home, tracking_uri="  ").tracking_store == f"sqlite:///{home.resolve() / 'mlflow.db'}"
    assert safe_uri("https://bob:s3cret@mlflow.example/") == "https://bob:***@mlflow.example/"


def test_open_tracking_puts_artifacts_under_home(tmp_path, store_templates):
    shutil.copy(store_templates[0], tmp_path / "mlflow.db")
    config = Config(home=tmp_path)
    tracking = open_tracking(config.tracking_store, config.artifact_root)
    experiment = tracking.client.get_experiment(tracking.experiment_id)
    assert experiment.name == "candor"
    assert experiment.artifact_location == (tmp_path.resolve() / "mlartifacts").as_uri()
    assert open_tracking(config.tracking_store, config.artifact_root).experiment_id == tracking.experiment_id


def test_config_params_are_flat_truncated_and_passwordless(trained):
    _, config, _ = trained
    params = config_params(config.model_copy(update={"database_url": "postgresql://u:pw@h/db",
                                                     "tracking_uri": "https://u:pw@mlflow/"}).recorded())
    assert params["labels.horizon"] == "5" and params["models.models"] == '["logreg"]'
    assert "database_url" not in params and "tracking_uri" not in params
    assert all(len(v) <= 6000 for v in params.values()) and not any("pw" in v for v in params.values())


def test_publish_logs_everything_and_records_the_row(trained, stores):
    bars, config, outcome = trained
    version = _publish(outcome, stores)
    assert (version.name, version.version) == ("candor.PLANT.d1", "1")
    assert version.status == "failed" and version.gate_reasons and not version.promoted
    assert version.note == "not promoted: gates failed"
    run = stores.client.get_run(version.run_id)
    assert run.data.tags["symbol"] == "PLANT" and run.data.tags["data_fingerprint"] == outcome.result.fingerprint
    assert run.data.tags["config_hash"] == config.config_hash() and run.data.tags["candor_version"]
    assert run.data.params["split.folds"] == "2"
    assert run.data.metrics["oos.accuracy"] == pytest.approx(outcome.result.oos.accuracy)
    for key in ("holdout.lift_ci_low", "oos.p_value", "oos.baseline.majority", "oos.f1"):
        assert key in run.data.metrics
    steps = [m.step for m in stores.client.get_metric_history(version.run_id, "fold.accuracy")]
    assert sorted(steps) == [0, 1]
    files = {a.path for folder in ("", "report", "plots", "model")
             for a in stores.client.list_artifacts(version.run_id, folder or None)}
    assert {"report/report.json", "plots/confusion_matrix.png", "plots/calibration.png",
            "feature_importance.csv", "model/manifest.json", "model/model.pkl.gz"} <= files
    row = latest_training_runs(stores.engine, "PLANT", "d1")[0]
    assert (row.mlflow_run_id, row.model_name, row.model_version) == (version.run_id, "candor.PLANT.d1", "1")
    assert row.oos_accuracy == pytest.approx(outcome.result.oos.accuracy)


def test_publish_with_passing_gates_promotes_and_champion_forecasts(trained, stores):
    bars, config, outcome = trained
    lenient = [MinimumMetricsGate(GateSpec(min_accuracy=0.0, min_precision=0.0, min_recall=0.0, min_f1=0.0))]
    first = _publish(outcome, stores, gates=lenient)
    assert first.status == "validated" and first.promoted and "no champion yet" in first.note
    second = _publish(outcome, stores, gates=lenient)
    assert second.promoted and "identical holdout" in second.note
    registry = Registry(stores.client, stores.engine)
    assert stores.client.get_registered_model("candor.PLANT.d1").aliases == {"champion": 2, "previous": 1}
    model = registry.champion("PLANT", "d1").model
    forecast = model.predict(bars)[0]
    assert forecast.symbol == "PLANT" and 0.0 <= forecast.confidence <= 1.0
