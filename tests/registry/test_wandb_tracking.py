"""W&B tracking (``[tracking] backend``): a small training logged offline, read back from the
offline run's transaction log with wandb's own reader, compared with the report and with MLflow.

No network: W&B runs offline, with stats, metadata, update checks and error reporting off and its
base URL on a closed local port, so an attempt to reach a server fails at once instead of leaving
the machine. W&B's caches go to a scratch folder; the runs go under <home>/wandb.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from candor.config import Config
from candor.errors import StoreError
from candor.services import open_services
from candor.store import latest_training_runs

WANDB_ENV = {
    "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_CONSOLE": "off", "WANDB_DISABLE_CODE": "true",
    "WANDB_DISABLE_GIT": "true", "WANDB_ERROR_REPORTING": "false", "WANDB__DISABLE_STATS": "true",
    "WANDB__DISABLE_META": "true", "WANDB__DISABLE_MACHINE_INFO": "true", "WANDB__DISABLE_UPDATE_CHECK": "true",
    "WANDB_BASE_URL": "http://127.0.0.1:9",
}


@pytest.fixture(scope="module", autouse=True)
def offline_wandb(tmp_path_factory):
    """One offline W&B environment for the module (wandb's service process keeps the first one)."""
    # The wandb extra is part of .[dev]. Imported here, not at the top: importing wandb takes ~4 s,
    # and under xdist every worker collects this module whether or not it runs these tests.
    import wandb

    scratch = tmp_path_factory.mktemp("wandb-scratch")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in WANDB_ENV.items():
            patch.setenv(name, value)
        for name in ("CACHE", "DATA", "CONFIG", "ARTIFACT"):
            patch.setenv(f"WANDB_{name}_DIR", str(scratch / name.lower()))
        for name in ("WANDB_API_KEY", "WANDB_DIR", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_RUN_ID"):
            patch.delenv(name, raising=False)
        yield
        wandb.teardown()


@pytest.fixture(scope="module")
def bars():
    from candor.data.synthetic import planted_signal

    return planted_signal(n=900, seed=3)


def _config(home: Path, backend: str) -> Config:
    return Config(home=home, models={"models": ("logreg",)}, split={"folds": 2},
                  evaluation={"n_boot": 100, "importance_repeats": 1}, tracking={"backend": backend})


def _train(bars, home: Path, backend: str, templates, workdir: Path):
    """A tracked training through the real path (open_services → run_training → publish), from a
    working directory W&B must leave alone."""
    from candor.application.train import run_training

    home.mkdir(parents=True)
    shutil.copy(templates[0], home / "mlflow.db")
    shutil.copy(templates[1], home / "candor.db")
    workdir.mkdir()
    config = _config(home, backend)
    cwd = Path.cwd()
    os.chdir(workdir)
    try:
        with open_services(config) as services:
            outcome = run_training(bars, config, services=services)
            run = services.tracking.client.get_run(outcome.registered.run_id)
            rows = latest_training_runs(services.engine, "PLANT", "d1")
            artifacts = {a.path for a in services.tracking.client.list_artifacts(run.info.run_id)}
    finally:
        os.chdir(cwd)
    return outcome, run, rows, artifacts


@dataclass
class OfflineRun:
    """What one offline W&B run recorded, as read back from its ``run-*.wandb`` file."""

    folder: Path
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None


def _key(item: Any) -> str:
    return item.key or ".".join(item.nested_key)


def read_offline_run(home: Path) -> OfflineRun:
    """The single offline run under ``<home>/wandb``, read with wandb's DataStore."""
    from wandb.proto.wandb_internal_pb2 import Record
    from wandb.sdk.internal.datastore import DataStore  # the reader of offline runs (wandb < 0.30)

    logs = list((home / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(logs) == 1, logs
    run = OfflineRun(logs[0].parent)
    store = DataStore()
    store.open_for_scan(str(logs[0]))
    while (data := store.scan_data()) is not None:
        record = Record()
        record.ParseFromString(data)
        kind = record.WhichOneof("record_type")
        if kind in ("run", "config"):
            updates = record.run.config.update if kind == "run" else record.config.update
            run.config.update({_key(u): json.loads(u.value_json) for u in updates})
        elif kind == "summary":
            for item in record.summary.update:
                if len(item.nested_key) > 1:  # a table: {ncols, path, ...} spread over nested keys
                    run.summary.setdefault(item.nested_key[0], {})[item.nested_key[1]] = json.loads(item.value_json)
                else:
                    run.summary[_key(item)] = json.loads(item.value_json)
        elif kind == "history":
            run.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run


@pytest.fixture(scope="module")
def both(bars, store_templates, tmp_path_factory):
    base = tmp_path_factory.mktemp("both")
    outcome, run, rows, artifacts = _train(bars, base / "home", "both", store_templates, base / "cwd")
    return base, outcome, run, rows, artifacts, read_offline_run(base / "home")


def test_wandb_run_holds_the_reports_config_and_scores(both):
    base, outcome, mlflow_run, _, _, logged = both
    result, report = outcome.result, outcome.result.report
    assert logged.exit_code == 0
    for section, values in result.config.recorded().items():
        assert logged.config[section] == values, section
    assert logged.config["tracking"]["backend"] == "both"
    identity = logged.config["candor"]
    assert identity["mlflow_run_id"] == mlflow_run.info.run_id == outcome.registered.run_id
    assert (identity["symbol"], identity["timeframe"]) == ("PLANT", "d1")
    assert identity["data_fingerprint"] == report.data_fingerprint and identity["config_hash"] == report.config_hash
    for section in ("oos", "holdout"):
        scores = getattr(report, section)
        for name in ("accuracy", "f1", "lift", "lift_ci_low", "lift_ci_high", "p_value", "best_baseline_accuracy"):
            assert logged.summary[f"{section}.{name}"] == pytest.approx(getattr(scores, name)), (section, name)
        assert scores.baselines
        for name, value in scores.baselines.items():
            assert logged.summary[f"{section}.baseline.{name}"] == pytest.approx(value)


def test_wandb_history_has_one_row_per_fold(both):
    _, outcome, _, _, _, logged = both
    folds = outcome.result.report.fold_details
    rows = [row for row in logged.history if "fold.accuracy" in row]
    assert [row["_step"] for row in rows] == [f.index for f in folds] == [0, 1]
    for row, fold in zip(rows, folds):
        assert row["fold.accuracy"] == pytest.approx(fold.accuracy) and row["fold.f1"] == pytest.approx(fold.f1)
        assert {k.removeprefix("fold.baseline.") for k in row if k.startswith("fold.baseline.")} == set(fold.baselines)
        for name, value in fold.baselines.items():
            assert row[f"fold.baseline.{name}"] == pytest.approx(value)


def test_wandb_and_mlflow_get_the_same_metrics(both):
    _, _, mlflow_run, _, _, logged = both
    pooled = {k: v for k, v in mlflow_run.data.metrics.items() if not k.startswith("fold.")}
    assert len(pooled) > 20
    assert {k: logged.summary[k] for k in pooled} == pytest.approx(pooled)
    assert {k for k in logged.summary if k.startswith(("oos.", "holdout."))} == set(pooled)


def test_wandb_run_has_importance_table_report_and_plots(both):
    _, outcome, mlflow_run, _, artifacts, logged = both
    report = outcome.result.report
    files = logged.folder / "files"
    assert json.loads((files / "report" / "report.json").read_text()) == report.model_dump(mode="json")
    assert {"confusion_matrix.png", "calibration.png"} <= {p.name for p in (files / "plots").iterdir()}
    table = json.loads((files / logged.summary["feature_importance"]["path"]).read_text())
    assert table["columns"] == ["feature", "importance", "std"]
    assert table["data"] == [[r.feature, r.importance, r.std] for r in report.feature_importance]
    assert len(table["data"]) == len(report.feature_importance) > 0
    # backend "both": MLflow keeps its full run and points at the W&B run
    assert {"report", "plots", "model", "feature_importance.csv"} <= artifacts
    assert mlflow_run.data.params["tracking.backend"] == "both"
    assert mlflow_run.data.tags["candor.wandb_run"] == str(logged.folder)


def test_wandb_writes_under_home_only(both):
    base, *_ , logged = both
    assert logged.folder.parent == (base / "home" / "wandb").resolve()
    assert list((base / "cwd").iterdir()) == []


def test_wandb_backend_keeps_mlflow_as_the_registry_only(bars, store_templates, tmp_path):
    outcome, run, rows, artifacts = _train(bars, tmp_path / "home", "wandb", store_templates, tmp_path / "cwd")
    version = outcome.registered
    assert (version.name, version.version) == ("candor.PLANT.d1", "1") and version.status in ("validated", "failed")
    assert run.info.status == "FINISHED" and artifacts == {"model"}
    assert run.data.params == {} and run.data.metrics == {}
    assert run.data.tags["data_fingerprint"] == outcome.result.fingerprint
    assert rows[0].mlflow_run_id == version.run_id and rows[0].model_version == "1"
    logged = read_offline_run(tmp_path / "home")
    assert run.data.tags["candor.wandb_run"] == str(logged.folder)
    assert logged.summary["oos.accuracy"] == pytest.approx(outcome.result.report.oos.accuracy)
    assert logged.config["candor"]["mlflow_run_id"] == version.run_id


def test_wandb_failure_registers_nothing(bars, store_templates, tmp_path):
    """A W&B run that cannot start is one StoreError line; the MLflow run is FAILED, no version."""
    from candor.application.train import run_training

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(store_templates[0], home / "mlflow.db")
    shutil.copy(store_templates[1], home / "candor.db")
    (home / "wandb").write_text("a file where W&B wants its folder")
    config = _config(home, "wandb")
    with open_services(config) as services:
        with pytest.raises(StoreError, match=r"^W&B could not start a run for PLANT/d1: .+") as caught:
            run_training(bars, config, services=services)
        assert "\n" not in str(caught.value)
        runs = services.tracking.client.search_runs([services.tracking.experiment_id])
        assert [r.info.status for r in runs] == ["FAILED"]
        assert services.tracking.client.search_registered_models() == []
        assert latest_training_runs(services.engine, "PLANT", "d1") == []
    assert not list((home / "models").rglob("manifest.json"))


@pytest.mark.parametrize("backend", ["wandb", "both"])
def test_wandb_backend_without_the_package_is_one_line_and_writes_nothing(backend, tmp_path, monkeypatch, capsys):
    """The real CLI ``main`` where ``import wandb`` fails (``sys.modules`` trick), in this process:
    the refusal is about the missing package, not the process boundary (a fresh interpreter cost ~1 s)."""
    from candor.cli import main

    work = tmp_path / "work"
    work.mkdir()
    home, config = work / "home", work / "candor.toml"
    config.write_text(f'[tracking]\nbackend = "{backend}"\n')
    for name in [k for k in os.environ if k.startswith(("CANDOR_", "MLFLOW_TRACKING"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CANDOR_HOME", str(home))
    monkeypatch.setitem(sys.modules, "wandb", None)
    monkeypatch.chdir(work)
    code = main(["train", "--dataset", "sp500", "--models", "logreg", "--config", str(config)])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, err
    assert len(lines) == 1 and "Traceback" not in err + out, err
    assert "pip install 'candor[wandb]'" in lines[0] and "tracking.backend" in lines[0]
    assert not home.exists()
    assert sorted(p.name for p in work.iterdir()) == ["candor.toml"]
