"""Two `candor tune-worker` processes share one study in PostgreSQL; bad storage is one line."""

from __future__ import annotations

import contextlib
import json
import os
import traceback
from pathlib import Path

import optuna
import pytest

from candor.cli import main


def _worker_child(argv: list[str], home: Path, folder: Path) -> None:
    """A `candor tune-worker` in a forked process with a home of its own; its stdout and stderr
    go to files in ``folder``, its exit code is the process's."""
    os.environ["CANDOR_HOME"] = str(home)
    with open(folder / "out", "w") as out, open(folder / "err", "w") as err, \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    raise SystemExit(code)


@pytest.fixture
def bars_csv(tmp_path):
    from tests.tune.conftest import session_bars

    path = tmp_path / "rwd.csv"
    session_bars(900, seed=11, symbol="RWD").to_csv(path)
    return path


def test_two_workers_share_one_study(postgres_url, study_name, bars_csv, tmp_path, capsys, monkeypatch):
    """One worker runs through ``main`` in this process, the other in a process forked from it
    (its imports already paid, no interpreter to start): two processes, each with its own
    connections, add trials to one study in PostgreSQL."""
    import multiprocessing

    from candor.training import tuning

    wait = tuning.wait_for_trials
    # each worker waits for the other's trials: a few minutes at most, not the default 10, if one died
    monkeypatch.setattr(tuning, "wait_for_trials",
                        lambda study, total, timeout, poll=0.5: wait(study, total, min(timeout, 240.0), poll))
    common = ["tune-worker", "--study-storage", postgres_url, "--study", study_name, "--data", str(bars_csv),
              "--model", "logreg", "--trials", "4", "--wait-for", "8", "--config", str(tmp_path / "none.toml")]
    (tmp_path / "none.toml").write_text("[labels]\nthreshold = 0.01\n")
    proc = multiprocessing.get_context("fork").Process(
        target=_worker_child, args=([*common, "--seed", "1"], tmp_path / "worker-home", tmp_path))
    proc.start()
    try:
        code = main([*common, "--seed", "2"])
        here = capsys.readouterr()
        proc.join(timeout=240)
    finally:  # a worker waiting for trials that never come must not outlive the test
        if proc.is_alive():
            proc.kill()
    assert proc.exitcode == 0, (tmp_path / "err").read_text()
    assert code == 0, here.err
    reports = [json.loads((tmp_path / "out").read_text()), json.loads(here.out)]
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
    try:
        for proc in procs:
            proc.join(timeout=120)
    finally:  # none may outlive the test
        for proc in procs:
            if proc.is_alive():
                proc.kill()
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
