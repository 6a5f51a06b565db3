"""Bad input at the edge of the wired commands: one line, the right exit code, nothing written."""

from __future__ import annotations

import pytest

from candor.cli import main
from tests.templates import seed_home
from tests.wiring.homes import snapshot


@pytest.mark.parametrize(("argv", "message"), [
    (["forecast", "--horizons", "abc"], "forecast.horizons"),
    (["forecast", "--horizons", "5,5"], "distinct positive"),
    (["registry", "list"], "`home` must be a writable directory"),
    (["drift"], "`home` must be a writable directory"),
])
def test_a_home_that_is_a_file_or_bad_flags_are_config_errors(argv, message, tmp_path, monkeypatch, capsys):
    not_a_folder = tmp_path / "home-file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("CANDOR_HOME", str(not_a_folder))
    monkeypatch.delenv("CANDOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    before = snapshot(not_a_folder)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 3, err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in out + err
    assert snapshot(not_a_folder) == before


def test_no_password_reaches_a_manifest_or_mlflow(tmp_path):
    """A study-storage URL with a password used to be stored in clear in every manifest."""
    from candor.config import load_config
    from candor.data.synthetic import planted_signal
    from candor.registry.artifact import load_model
    from candor.registry.tracking import config_params
    from candor.application.train import run_training

    config = load_config(environ={}, overrides={
        "home": str(tmp_path), "models": {"models": ["logreg"]}, "split": {"folds": 3},
        "evaluation": {"importance_repeats": 0, "n_boot": 100},
        "tune": {"study_storage": "postgresql+psycopg://u:PASSWORD@db.example/optuna"},
        "database_url": "postgresql+psycopg://u:PASSWORD@db.example/candor"})
    outcome = run_training(planted_signal(700, seed=2), config, track=False)
    text = (outcome.artifact / "manifest.json").read_text()
    assert "PASSWORD" not in text and "u:***@db.example/optuna" in text
    assert "PASSWORD" not in repr(config_params(config.recorded())) and "PASSWORD" not in repr(load_model(outcome.artifact).manifest)


def test_an_unreachable_database_fails_before_training_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    from candor.data.synthetic import planted_signal

    planted_signal(700, seed=2).to_csv(tmp_path / "plant.csv")
    monkeypatch.setenv("CANDOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CANDOR_DATABASE_URL", "postgresql+psycopg://u:PASSWORD@127.0.0.1:1/none")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code = main(["train", "--data", str(tmp_path / "plant.csv"), "--symbol", "PLANT", "--timeframe", "d1",
                 "--models", "logreg", "--folds", "3", "--calendar", "24/7", "--fold-jobs", "1"])
    out, err = capsys.readouterr()
    assert code == 1 and "cannot connect" in err and "PASSWORD" not in out + err
    assert "walk-forward" not in out  # failed before any training was reported
    assert not (tmp_path / "home" / "models").exists()
    assert not (tmp_path / "home").exists()  # the configured database is reached before <home> is created


@pytest.mark.parametrize("flag", ["--output-json", "--out"])
def test_unwritable_outputs_are_refused_before_training(flag, tmp_path, monkeypatch, capsys):
    from candor.data.synthetic import planted_signal

    planted_signal(700, seed=2).to_csv(tmp_path / "plant.csv")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    blocked = snapshot(blocker)
    monkeypatch.setenv("CANDOR_HOME", str(tmp_path / "home"))
    code = main(["train", "--data", str(tmp_path / "plant.csv"), "--symbol", "PLANT", "--timeframe", "d1",
                 "--models", "logreg", "--folds", "3", "--calendar", "24/7", "--fold-jobs", "1",
                 flag, str(blocker / "inside")])
    out, err = capsys.readouterr()
    assert code == 3 and f"`{flag}` cannot be written" in err and len(err.strip().splitlines()) == 1
    assert "walk-forward" not in out and not (tmp_path / "home" / "models").exists()
    assert snapshot(tmp_path / "home") is None and snapshot(blocker) == blocked  # nothing created, the blocker as it was


@pytest.mark.parametrize("parts", [("models", "..", "..", "x"), ("/etc", "passwd"), ("models", "../../../tmp")])
def test_writes_are_contained_in_home(parts, tmp_path):
    from candor.config import under_home
    from candor.errors import ConfigError

    with pytest.raises(ConfigError, match="outside `home`"):
        under_home(tmp_path / "home", *parts)
    assert under_home(tmp_path / "home", "models", "SPX", "d1") == (tmp_path / "home" / "models" / "SPX" / "d1").resolve()


def test_a_home_that_is_not_a_path_is_refused():
    from candor.config import load_config
    from candor.errors import ConfigError

    with pytest.raises(ConfigError, match="`home` must be a folder path"):
        load_config(environ={}, overrides={"home": 3})


def test_a_planted_password_is_in_nothing_a_tracked_training_writes(tmp_path, tmp_path_factory):
    """Every file under <home> after a tracked, registered training: manifest, MLflow's database,
    its artifacts, the operational store — none may hold the password of a configured URL."""
    from candor.config import load_config
    from candor.data.synthetic import planted_signal
    from candor.application.train import run_training

    # copies of the migrated empty stores (the training writes into them as into new ones; building
    # MLflow's store here cost seconds and is not what this test is about)
    home = seed_home(tmp_path / "home", tmp_path_factory)
    config = load_config(environ={"CANDOR_API_TOKEN": "PASSWORD-token"}, overrides={
        "home": str(home), "models": {"models": ["logreg"]}, "split": {"folds": 3},
        "evaluation": {"importance_repeats": 0, "n_boot": 100},
        "tune": {"study_storage": "postgresql+psycopg://u:PASSWORD@db.example/optuna"},
        "alerts": {"webhook_url": "https://hooks.example/x?token=PASSWORD"}})
    outcome = run_training(planted_signal(700, seed=2), config, promote=True)
    assert outcome.registered is not None
    leaks = [str(path) for path in home.rglob("*") if path.is_file() and b"PASSWORD" in path.read_bytes()]
    assert leaks == []


def _trained_artifact(tmp_path, monkeypatch):
    """A small untracked training's artifact and its bars as CSV (what ``candor backtest`` reads)."""
    from candor.config import load_config
    from candor.data.synthetic import planted_signal
    from candor.application.train import run_training

    monkeypatch.setenv("CANDOR_HOME", str(tmp_path / "home"))
    config = load_config(environ={}, overrides={"home": str(tmp_path / "home"), "models": {"models": ["logreg"]},
                                                "split": {"folds": 3}, "evaluation": {"importance_repeats": 0,
                                                                                      "n_boot": 100}})
    bars = planted_signal(700, seed=2)
    outcome = run_training(bars, config, out=tmp_path / "models", track=False)
    bars.to_csv(tmp_path / "bars.csv")
    return outcome.artifact, tmp_path / "bars.csv"


def _backtest_fails_in_one_line(artifact, csv, capsys) -> None:
    code = main(["backtest", "--model", str(artifact), "--data", str(csv),
                 "--symbol", "PLANT", "--timeframe", "d1", "--calendar", "24/7"])
    out, err = capsys.readouterr()
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in out + err, (code, err)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00", b'{"format_version": 99}', b"[]"])
def test_a_corrupt_manifest_is_one_line(content, tmp_path, capsys, monkeypatch):
    artifact, csv = _trained_artifact(tmp_path, monkeypatch)
    (artifact / "manifest.json").write_bytes(content)
    _backtest_fails_in_one_line(artifact, csv, capsys)


def test_a_killed_publish_leaves_no_model_and_its_staging_is_swept(tmp_path, tmp_path_factory, monkeypatch):
    """kill -9 between saving and publishing used to leave an orphan model directory."""
    import subprocess
    import sys

    from candor.config import load_config
    from candor.data.synthetic import planted_signal
    from candor.registry import publish as publish_module
    from candor.application import train as workflow

    seed_home(tmp_path / "home", tmp_path_factory)  # migrated empty stores: the kill, not the first run, is the point
    config = load_config(environ={}, overrides={"home": str(tmp_path / "home"), "models": {"models": ["logreg"]},
                                                "split": {"folds": 3},
                                                "evaluation": {"importance_repeats": 0, "n_boot": 100}})
    seen = {}

    def die(registry, tracking, candidate, **kwargs):
        seen["staging"] = candidate.artifact
        raise KeyboardInterrupt  # stands in for the kill: publishing never finishes

    monkeypatch.setattr(workflow, "publish", die)
    with pytest.raises(KeyboardInterrupt):
        workflow.run_training(planted_signal(700, seed=2), config)
    models = tmp_path / "home" / "models"
    assert workflow.STAGING in seen["staging"].name and not seen["staging"].exists()
    assert not [p for p in models.rglob("manifest.json")]  # no model directory was left behind
    # A real kill cannot clean up: its staging folder (a dead writer's pid) goes on the next run.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    abandoned = models / "PLANT" / "d1" / f"20260101T000000Z{workflow.STAGING}{dead.stdout.strip()}"
    abandoned.mkdir(parents=True)
    (abandoned / "manifest.json").write_text("{}")
    assert workflow.remove_abandoned_staging(models) == [abandoned] and not abandoned.exists()
    assert publish_module.publish is not die


def test_weekday_bars_on_exchange_holidays_name_the_calendar_flag(tmp_path, capsys):
    import numpy as np
    import pandas as pd

    # every weekday, Christmas and New Year included; enough of them for every feature's warm-up
    days = pd.bdate_range("2021-01-01", "2024-02-01")
    close = 100 + np.cumsum(np.random.default_rng(0).normal(0, 1, len(days)))
    pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Open": close, "High": close + 1, "Low": close - 1,
                  "Close": close, "Volume": 100}).to_csv(tmp_path / "fx.csv", index=False)
    assert main(["features", "--data", str(tmp_path / "fx.csv")]) == 1
    out, err = capsys.readouterr()
    assert "exchange was closed" in err and "--calendar none" in err and len(err.strip().splitlines()) == 1
    assert main(["features", "--data", str(tmp_path / "fx.csv"), "--calendar", "none"]) == 0


def test_an_unwritable_home_is_a_config_error(tmp_path, monkeypatch):
    import os

    from candor.config import load_config
    from candor.errors import ConfigError
    from candor.services import ensure_home

    monkeypatch.setattr(os, "access", lambda path, mode: False)  # the tests run as root, who may write anywhere
    with pytest.raises(ConfigError, match="`home` must be a writable directory.*not writable"):
        ensure_home(load_config(environ={}, overrides={"home": str(tmp_path)}))


@pytest.mark.parametrize("mutate", [
    lambda m: {**m, "files": {"../outside.pkl.gz": "0" * 64}},  # a file outside the artifact
    lambda m: {**m, "files": {}},  # no model file at all
    lambda m: {**m, "report": {**m["report"], "fold_details": [{"index": 0}]}},  # a malformed report
    lambda m: {**m, "warmup": 10 ** 30},  # an integer no model warms up for
])
def test_a_tampered_manifest_is_one_line(mutate, tmp_path, capsys, monkeypatch):
    import json

    artifact, csv = _trained_artifact(tmp_path, monkeypatch)
    manifest = artifact / "manifest.json"
    manifest.write_text(json.dumps(mutate(json.loads(manifest.read_text()))))
    _backtest_fails_in_one_line(artifact, csv, capsys)


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://u:SECRET@h/db",
    "postgresql://h/db?password=SECRET&sslmode=require",
    "postgresql://u@h/db?sslmode=require&sslpassword=SECRET",
    "http://u:SECRET@127.0.0.1:9",
    "https://hooks.example/x?token=SECRET#frag",
    "nosuch://u:SECRET@host/x",
    "postgresql://u:p@ss:SECRET@h/db",  # a raw '@' in the password
])
def test_one_masking_rule_hides_every_credential_form(url):
    """Userinfo passwords and credential query parameters alike, for printed and recorded URLs."""
    from candor.config import load_config, safe_uri
    from candor.store.engine import safe_url

    assert "SECRET" not in safe_uri(url) and "***" in safe_uri(url)
    if url.startswith("postgresql"):
        assert "SECRET" not in safe_url(url)
    recorded = load_config(environ={}, overrides={"tune": {"study_storage": url}}).recorded()
    assert "SECRET" not in recorded["tune"]["study_storage"]
