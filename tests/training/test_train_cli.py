"""`candor train` through the real CLI entry point: outputs, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from candor.cli import main
from tests.templates import seed_home
from tests.training.conftest import CHEAP

PROMISED_KEYS = {"symbol", "timeframe", "n_samples", "label", "horizon", "folds", "models", "weights",
                 "oos", "holdout", "timings"}
SCORE_KEYS = {"accuracy", "balanced_accuracy", "f1", "log_loss", "baselines", "best_baseline", "lift",
              "lift_ci_low", "lift_ci_high", "p_value", "verdict"}


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_dry_run_reports_and_writes_only_the_json(capsys, planted_csv, tmp_path, candor_home):
    report = tmp_path / "report.json"
    code, out, _ = _run(capsys, "train", "--data", str(planted_csv), "--symbol", "PLANT", "--timeframe", "d1",
                        *CHEAP, "--dry-run", "--output-json", str(report))
    assert "SIGNIFICANT EDGE" in out
    document = json.loads(report.read_text())
    assert code == (0 if document["gates"]["passed"] else 2)  # the [registry] gates decide, dry run too
    assert PROMISED_KEYS <= set(document)
    for section in ("oos", "holdout"):
        assert SCORE_KEYS <= set(document[section])
        assert set(document[section]["baselines"]) == {"majority", "persistence", "stratified"}
    assert set(document["models"]["logreg"]) >= {"train_accuracy", "oos_accuracy", "f1"}
    assert document["weights"] == {"logreg": 1.0}
    assert document["artifact"] is None and document["backtest"]["metrics"]["n_trades"] > 0
    assert not (candor_home / "models").exists() and not (candor_home / "mlflow.db").exists()


def test_a_full_training_saves_tracks_registers_and_promotes(capsys, planted_csv, candor_home):
    code, out, err = _run(capsys, "train", "--data", str(planted_csv), "--symbol", "PLANT", "--timeframe", "d1",
                          *CHEAP, "--promote", "--output-json", str(candor_home / "r.json"), "--log-json",
                          "--log-level", "INFO")
    document = json.loads((candor_home / "r.json").read_text())
    registered = document["registry"]
    assert registered["name"] == "candor.PLANT.d1" and registered["version"] == "1"
    # The one [registry] gate list decides promotion and the exit code alike.
    assert code == (0 if registered["promoted"] else 2)
    assert (registered["status"] == "validated") == document["gates"]["passed"]
    assert (candor_home / "mlflow.db").exists() and (candor_home / "candor.db").exists()
    assert document["artifact"].startswith(str(candor_home / "models" / "PLANT" / "d1"))
    # --log-json: every stderr line one JSON object; each stage logged, with its timings
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    stages = {line.get("stage") for line in lines}
    assert {"data", "folds", "members", "gates", "publish"} <= stages
    assert all("seconds" in line["metrics"] for line in lines if line.get("stage") in {"data", "publish"})
    # the run's log beside its report (the manifest), the same lines
    saved = (Path(document["artifact"]) / "training_log.jsonl").read_text().splitlines()
    assert [json.loads(line)["message"] for line in saved] == [line["message"] for line in lines]


def test_require_edge_on_a_random_walk_exits_2(capsys, walk_csv):
    code, out, _ = _run(capsys, "train", "--data", str(walk_csv), "--symbol", "RW", "--timeframe", "d1",
                        *CHEAP, "--dry-run", "--require-edge")
    assert code == 2
    assert "no significant edge" in out.lower()


def test_min_accuracy_gate_exits_2(capsys, planted_csv):
    code, out, _ = _run(capsys, "train", "--data", str(planted_csv), "--timeframe", "d1", *CHEAP,
                        "--dry-run", "--min-accuracy", "0.99")
    assert code == 2
    assert "oos accuracy" in out and "< 0.990" in out


@pytest.mark.parametrize(("extra", "code", "message"), [
    (["--models", "logreg,svm"], 3, "unknown model 'svm'"),
    (["--horizon", "0"], 3, "labels.horizon"),
    (["--threshold", "-0.1"], 3, "labels.threshold"),
    (["--purge", "2"], 3, "purge must be >= labels.horizon"),
    (["--folds", "400"], 3, "`folds` = 400"),
    (["--label", "maybe"], 3, "labels.kind"),
    (["--log-level", "LOUD"], 3, "--log-level"),
    (["--threshold", "0.5"], 1, "class"),
    (["--symbol", "../../../elsewhere"], 3, "`symbol` must be"),
    (["--symbol", ".hidden"], 3, "`symbol` must be"),
    (["--symbol", "BTC/USDT"], 3, "no slashes"),
    (["--dry-run", "--promote"], 3, "nothing to --promote"),
    (["--all"], 3, "instead of --data"),
])
def test_bad_options_give_one_line_and_the_right_exit_code(capsys, planted_csv, candor_home, extra, code, message):
    got, out, err = _run(capsys, "train", "--data", str(planted_csv), "--timeframe", "d1", *CHEAP, *extra)
    assert got == code
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert message in err
    assert "Traceback" not in err + out
    # Refused before anything is opened: no model, and no candor.db / mlflow.db either (the labels
    # and folds are checked before the stores, not after they are created).
    assert sorted(p.name for p in candor_home.iterdir()) == []


@pytest.mark.parametrize(("content", "message"), [
    (None, "is not a file"), (b"seed = 1\n\xff\xfe", "is not UTF-8"), (b"seed = = 1", "is not valid TOML"),
])
def test_bad_config_files_give_one_line_exit_3(capsys, planted_csv, tmp_path, content, message):
    path = tmp_path / "candor.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    got, out, err = _run(capsys, "train", "--data", str(planted_csv), "--timeframe", "d1", *CHEAP,
                         "--config", str(path))
    assert got == 3 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err + out


def test_missing_file_is_a_data_error(capsys, tmp_path):
    code, _, err = _run(capsys, "train", "--data", str(tmp_path / "none.csv"), "--timeframe", "d1")
    assert code == 1 and err.startswith("error:")


def test_every_command_has_help_text(capsys):
    from candor.cli.app import app
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        assert (command.help or "").strip(), f"`candor {name}` has no help text"


def test_the_exit_code_and_the_registry_tag_come_from_one_gate_list(capsys, planted_csv, candor_home,
                                                                   tmp_path_factory):
    """--min-accuracy used to set two gate systems; now both verdicts are the same list's."""
    seed_home(candor_home, tmp_path_factory)  # migrated empty stores: a fresh home is another test's point
    code, out, _ = _run(capsys, "train", "--data", str(planted_csv), "--symbol", "PLANT", "--timeframe", "d1",
                        *CHEAP, "--no-require-edge", "--min-accuracy", "0.0", "--output-json",
                        str(candor_home / "r.json"))
    document = json.loads((candor_home / "r.json").read_text())
    assert not any("significant_edge" in f for f in document["gates"]["failures"])
    assert document["registry"]["status"] == ("validated" if document["gates"]["passed"] else "failed")
    assert code == (0 if document["gates"]["passed"] else 2)
    assert list(document["registry"]["gate_reasons"]) == document["gates"]["failures"]


def test_reused_tuned_parameters_are_printed_and_recorded(capsys, planted_csv, candor_home, tmp_path):
    """An earlier --optimize's parameters used to be merged in silently; now with their provenance."""
    saved = candor_home / "best_hyperparameters" / "PLANT_d1.json"
    saved.parent.mkdir(parents=True)
    # Tuned on rows long before these bars: no overlap with this run's out-of-sample rows.
    saved.write_text(json.dumps({"format": 2, "params": {"logreg": {"C": 0.3}}, "created_at": "2026-11-30T06:00:00",
                                 "n_trials": 27, "tuned_on": {"first_row": "1990-01-01", "last_row": "1990-06-01",
                                                              "labels_before": "1990-07-01", "rows": 150}}))
    report = tmp_path / "report.json"
    _, out, _ = _run(capsys, "train", "--data", str(planted_csv), "--symbol", "PLANT", "--timeframe", "d1",
                     *CHEAP, "--dry-run", "--output-json", str(report))
    assert "derived models.params.logreg" in out
    document = json.loads(report.read_text())
    (setting,) = [d for d in document["derived"] if d["field"] == "models.params.logreg"]
    assert setting["value"]["C"] == 0.3 and str(saved) in setting["source"] and "27 trials" in setting["source"]
    assert document["n_trials"] == 1 + 27  # the reused studies' trials count in the Deflated Sharpe


def test_reused_parameters_tuned_on_the_test_rows_are_ignored_unless_reuse_is_asked(capsys, planted_csv,
                                                                                      candor_home, tmp_path):
    saved = candor_home / "best_hyperparameters" / "PLANT_d1.json"
    saved.parent.mkdir(parents=True)
    saved.write_text(json.dumps({"format": 2, "params": {"logreg": {"C": 0.3}}, "n_trials": 27,
                                 "tuned_on": {"first_row": "1990-01-01", "last_row": "2100-01-01",
                                              "labels_before": "2100-01-02", "rows": 9999}}))
    series = ("train", "--data", str(planted_csv), "--symbol", "PLANT", "--timeframe", "d1", *CHEAP)
    code, out, err = _run(capsys, *series, "--reuse-params", "--out", str(tmp_path / "models"))
    assert code == 1 and "overlap this run's out-of-sample rows" in out + err and "--reuse-params" in out + err
    assert not (tmp_path / "models").exists()
    assert sorted(p.name for p in candor_home.iterdir()) == ["best_hyperparameters"]  # no store opened
    # A plain train is not blocked by the saved file: one warning line, then the configured parameters.
    report = tmp_path / "report.json"
    code, out, err = _run(capsys, *series, "--dry-run", "--output-json", str(report))
    assert code in (0, 2) and len([line for line in err.splitlines() if "NOT reusing" in line]) == 1
    document = json.loads(report.read_text())
    (note,) = [d for d in document["derived"] if d["field"] == "tune.reuse_saved"]
    assert "overlap" in note["source"] and document["n_trials"] == 1
    assert not [d for d in document["derived"] if d["field"] == "models.params.logreg"]
    code, out, _ = _run(capsys, *series, "--dry-run", "--ignore-saved-params", "--output-json", str(report))
    (note,) = [d for d in json.loads(report.read_text())["derived"] if d["field"] == "tune.reuse_saved"]
    assert "NOT reusing" in note["source"] and "derived tune.reuse_saved" in out
    code, _, err = _run(capsys, *series, "--reuse-params", "--ignore-saved-params")
    assert code == 3 and "drop one of them" in err


# ---- the seed train script's flags: --period, --model-type, --force ------------------------------------------

LENIENT_GATES = """[registry]
min_accuracy = 0.0
min_precision = 0.0
min_recall = 0.0
min_f1 = 0.0
require_edge = false
min_backtest_sharpe = -1000.0
min_backtest_trades = 0
min_deflated_sharpe = 0.0
"""


def test_period_trains_on_the_window_ending_at_the_last_bar_and_records_it(capsys, planted_csv, tmp_path):
    reports = {}
    for period in (None, "2y"):
        path = tmp_path / f"{period}.json"
        # ±1%: two years less the 392-bar warm-up leave ~330 rows, too few NEUTRAL ones at the default ±0.2%
        code, out, _ = _run(capsys, "train", "--data", str(planted_csv), "--symbol", "PLANT", *CHEAP, "--dry-run",
                            "--threshold", "0.01", "--output-json", str(path), *(["--period", period] if period else []))
        assert code in (0, 2)
        reports[period] = json.loads(path.read_text())
    # 1,200 daily 24/7 bars (2010-01-01 .. 2013-04-14): two years are the 731 bars after 2011-04-14 (2012 is a leap year).
    (setting,) = [d for d in reports["2y"]["derived"] if d["field"] == "data.period"]
    assert setting["value"] == "2y" and "731 of 1,200 bars from 2011-04-15 to 2013-04-14" in setting["source"]
    assert "derived data.period = 2y" in out
    assert not any(d["field"] == "data.period" for d in reports[None]["derived"])
    assert reports["2y"]["n_samples"] < reports[None]["n_samples"] - 400


def test_a_period_that_leaves_too_few_bars_is_one_line_exit_1(capsys, planted_csv, candor_home):
    code, out, err = _run(capsys, "train", "--data", str(planted_csv), "--symbol", "PLANT", *CHEAP, "--period", "1y")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err + out
    # the warm-up of the features (392: Wilder's ATR 50 settled), the horizon (5) and 200 training rows
    assert "`period` 1y leaves 365 bar(s)" in err and "at least 597" in err and "longer --period" in err
    assert not (candor_home / "models").exists() and not (candor_home / "mlflow.db").exists()


def test_model_type_is_the_seed_spelling_of_one_member(capsys, planted_csv, tmp_path):
    report = tmp_path / "r.json"
    cheap = [a for a in CHEAP if a not in ("--models", "logreg")]
    code, _, _ = _run(capsys, "train", "--data", str(planted_csv), *cheap, "--model-type", "lgb", "--dry-run",
                      "--output-json", str(report))
    assert code in (0, 2)
    assert json.loads(report.read_text())["weights"] == {"lgbm": 1.0}


@pytest.mark.parametrize(("extra", "message"), [
    (["--period", "4y"], "`period` must be one of 1y, 2y, 3y, 5y, 10y. Got '4y'"),
    (["--model-type", "svm"], "must be one of xgb, rf, lgb"),
    (["--model-type", "xgb"], "give only one of them"),  # CHEAP already names --models
    (["--models", "lgb,svm"], "unknown model 'svm'"),  # lgb is read as lgbm: the first unknown name is svm
    (["--force", "--dry-run"], "--dry-run writes nothing"),
    (["--force", "--timeframes", "d1"], "applies to one series"),
    (["--period", "2y", "--timeframes", "d1"], "applies to one series"),
])
def test_bad_seed_flags_are_one_line_exit_3_nothing_written(capsys, planted_csv, candor_home, extra, message):
    got, out, err = _run(capsys, "train", "--data", str(planted_csv), *CHEAP, *extra)
    assert got == 3, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:") and "Traceback" not in err + out
    assert message in err
    assert not (candor_home / "models").exists() and not (candor_home / "mlflow.db").exists()


def test_force_promotes_past_the_champion_comparison_but_not_past_the_gates(capsys, planted_csv, candor_home,
                                                                           tmp_path_factory):
    from candor.config import load_config
    from candor.services import open_services
    from candor.store.audit import alias_events

    seed_home(candor_home, tmp_path_factory)  # migrated empty stores: a fresh home is another test's point
    config = candor_home / "candor.toml"
    config.write_text(LENIENT_GATES)
    train = ["train", "--data", str(planted_csv), "--symbol", "PLANT", *CHEAP, "--config", str(config)]

    def registered(*extra):
        path = candor_home / "r.json"
        code, _, _ = _run(capsys, *train, *extra, "--output-json", str(path))
        return code, json.loads(path.read_text())["registry"]

    code, first = registered("--label", "binary", "--promote")
    assert code == 0 and first["promoted"]
    # Same series, other labels: the comparison with the binary champion refuses, so --promote cannot promote.
    code, second = registered("--promote")
    assert code == 2 and not second["promoted"] and "different labels" in second["note"]
    # --force still keeps the gates: a version that fails them is not promoted.
    code, third = registered("--force", "--min-accuracy", "0.99")
    assert code == 2 and third["status"] == "failed" and not third["promoted"]
    assert f"candor registry promote candor.PLANT.d1 {third['version']} --force" in third["note"]
    code, fourth = registered("--force")
    assert code == 0 and fourth["promoted"] and "without the champion comparison" in fourth["note"]
    with open_services(load_config()) as services:
        events = alias_events(services.registry.engine, "candor.PLANT.d1", "champion")
        assert str(services.registry.version("candor.PLANT.d1", "champion").version) == fourth["version"]
    assert [(e.action, e.to_version) for e in events] == [("promote", first["version"]),
                                                          ("force_promote", fourth["version"])]
    assert events[-1].actor and "--force" in events[-1].reason


def test_a_run_refused_mid_way_waits_for_the_fold_worker_warm_up(capsys, planted_csv, candor_home, monkeypatch):
    """Exiting while the warm-up thread still spawns loky workers printed an EOFError traceback
    under the one-line error: the command returns only after the warm-up finished."""
    import threading
    import time

    from candor.cli import train as train_cli
    from candor.errors import CandorError

    refusing, warmed = threading.Event(), threading.Event()

    def slow_warm_up(fold_jobs):
        # still warming up when the run is refused, and for 0.1 s after: a command that returned
        # without waiting would be done (the one-line error printed) long before
        thread = threading.Thread(target=lambda: (refusing.wait(60), time.sleep(0.1), warmed.set()), daemon=True)
        thread.start()
        return thread

    def refused(*args, **kwargs):
        refusing.set()
        raise CandorError("refused mid-way")

    monkeypatch.setattr(train_cli, "_start_fold_workers", slow_warm_up)
    monkeypatch.setattr(train_cli, "_train_one", refused)
    monkeypatch.setattr("candor.application.train.plan_training", lambda *args, **kwargs: None)  # no features
    code, out, err = _run(capsys, "train", "--data", str(planted_csv), "--symbol", "PLANT", "--timeframe", "d1",
                          *CHEAP, "--dry-run")
    assert code != 0 and "refused mid-way" in err and "Traceback" not in err + out
    assert warmed.is_set()
