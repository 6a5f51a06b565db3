"""Two `candor tune-worker` processes share one study in PostgreSQL; bad storage is one line."""

from __future__ import annotations

import json
import subprocess
import sys
import traceback

import optuna
import pytest

from candor.cli import main

WORKER = "import sys; from candor.cli import main; sys.exit(main(sys.argv[1:]))"


def _worker(args: list[str], env_home) -> subprocess.Popen:
    import os

    env = {**os.environ, "CANDOR_HOME": str(env_home), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", WORKER, "tune-worker", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def bars_csv(tmp_path):
    from tests.tune.conftest import session_bars

    path = tmp_path / "rwd.csv"
    session_bars(900, seed=11, symbol="RWD").to_csv(path)
    return path


def test_two_workers_share_one_study(postgres_url, study_name, bars_csv, tmp_path, capsys, monkeypatch):
    """One worker runs in a process of its own, the other through ``main`` in this one (whose
    imports are already paid): two processes still add trials to one study in PostgreSQL."""
    from candor.training import tuning

    wait = tuning.wait_for_trials
    # the in-process worker waits for the other's trials: a minute or so, not the default 10, if it died
    monkeypatch.setattr(tuning, "wait_for_trials",
                        lambda study, total, timeout, poll=0.5: wait(study, total, min(timeout, 240.0), poll))
    common = ["tune-worker", "--study-storage", postgres_url, "--study", study_name, "--data", str(bars_csv),
              "--model", "logreg", "--trials", "4", "--wait-for", "8", "--config", str(tmp_path / "none.toml")]
    (tmp_path / "none.toml").write_text("[labels]\nthreshold = 0.01\n")
    proc = _worker([*common[1:], "--seed", "1"], tmp_path)
    try:
        code = main([*common, "--seed", "2"])
        here = capsys.readouterr()
        out, err = proc.communicate(timeout=240)
    finally:  # a worker waiting for trials that never come must not outlive the test
        proc.kill()
    assert proc.returncode == 0, err
    assert code == 0, here.err
    reports = [json.loads(out), json.loads(here.out)]
    assert [r["n_own_trials"] for r in reports] == [4, 4]
    assert all(r["n_trials"] == 8 for r in reports)  # the counts add up in the shared study
    study = optuna.load_study(study_name=study_name, storage=postgres_url)
    assert len(study.trials) == 8
    best = study.best_trial
    for report in reports:  # both report the same (the study's) best trial
        assert report["best_trial"] == best.number
        assert report["best_value"] == pytest.approx(best.value)
        assert report["best_params"]["C"] == pytest.approx(best.params["C"])
    optuna.delete_study(study_name=study_name, storage=postgres_url)


def _open_storage_child(url: str, errors) -> None:
    from candor.training.study_storage import open_storage

    try:
        open_storage(url)
    except BaseException:
        errors.put(traceback.format_exc())
        raise SystemExit(1) from None


def test_workers_opening_an_empty_database_together_all_succeed(postgres_schema_url):
    """Each creates Optuna's tables; the ones that lose that race retry instead of exiting.

    The three workers are processes forked from this one after it imported the storage module, so
    they start within milliseconds of each other (closer than interpreters that each import Optuna
    first) and their start-up costs no interpreter and no imports."""
    import multiprocessing

    import candor.training.study_storage  # noqa: F401 - imported once here, inherited by the forks

    fork = multiprocessing.get_context("fork")
    errors = fork.Queue()
    procs = [fork.Process(target=_open_storage_child, args=(postgres_schema_url, errors)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    messages = []
    while not errors.empty():
        messages.append(errors.get())
    assert [p.exitcode for p in procs] == [0, 0, 0], messages


def test_unreachable_storage_is_one_line_exit_1(bars_csv, capsys):
    code = main(["tune-worker", "--study-storage", "postgresql+psycopg://postgres@127.0.0.1:1/test",
                 "--data", str(bars_csv), "--model", "logreg", "--trials", "2"])
    err = capsys.readouterr().err
    assert code == 1
    assert "`study_storage` 'postgresql+psycopg://postgres@127.0.0.1:1/test' cannot be opened" in err
    assert len(err.strip().splitlines()) <= 3  # one message (Rich may wrap it)


def test_password_is_masked_in_the_error(bars_csv, capsys):
    code = main(["tune-worker", "--study-storage", "postgresql+psycopg://u:s3cret@127.0.0.1:1/test",
                 "--data", str(bars_csv), "--trials", "2"])
    assert code == 1 and "s3cret" not in capsys.readouterr().err


def test_zero_trials_is_a_config_error(bars_csv, capsys):
    code = main(["tune-worker", "--study-storage", "sqlite://", "--data", str(bars_csv), "--trials", "0"])
    assert code == 3 and "`tune.trials`" in capsys.readouterr().err
    code = main(["train", "--data", str(bars_csv), "--optimize", "--trials", "0", "--dry-run"])
    assert code == 3


def test_train_optimize_reports_tuning_in_json(bars_csv, tmp_path):
    out = tmp_path / "report.json"
    code = main(["train", "--data", str(bars_csv), "--models", "logreg", "--threshold", "0.01", "--folds", "3",
                 "--optimize", "--trials", "2", "--dry-run", "--output-json", str(out), "--fold-jobs", "1",
                 "--log-json"])
    assert code in (0, 2)
    tuning = json.loads(out.read_text())["tuning"]
    studies = 3 + 1 + (tuning["warmup"] is not None)  # 3 folds + the production model (+ the warm-up block)
    assert tuning["n_trials_total"] == 2 * studies and set(tuning["best_params"]) == {"logreg"}
