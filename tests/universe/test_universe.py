"""Universe training: serial = processes = Dask; failures are rows; threads pinned; CLI summary."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from candor.cli import main
from candor.config import load_config
from candor.application.universe import (
    ClusterError, SeriesSpec, connect_dask, pinned_threads, resolve_series, threads_per_process, train_universe,
)


def _config(**universe):
    return load_config(None, {"models": {"models": ["logreg"]}, "split": {"folds": 3},
                              "labels": {"threshold": 0.01}, "universe": universe,
                              "evaluation": {"importance_repeats": 0, "n_boot": 100}}, environ={})


def _specs():
    from candor.data.synthetic import random_walk

    good = [SeriesSpec(f"S{i}", bars=random_walk(700, seed=i, symbol=f"S{i}")) for i in range(3)]
    short = SeriesSpec("SHORT", bars=random_walk(60, seed=9, symbol="SHORT"))  # fails inside training
    return [good[0], SeriesSpec("missing", dataset="no_such_dataset"), good[1], short, good[2]]


def _comparable(rows):
    return [dataclasses.replace(r, seconds=None) for r in rows]


@pytest.fixture(scope="module")
def serial_rows():
    return train_universe(_specs(), _config(), dry_run=True)


def test_failures_are_rows_and_the_rest_continue(serial_rows):
    status = {r.name: r.status for r in serial_rows}
    assert status == {"S0": "trained", "missing": "failed", "S1": "trained", "SHORT": "failed", "S2": "trained"}
    reasons = {r.name: r.reason for r in serial_rows if r.status == "failed"}
    assert "no_such_dataset" in reasons["missing"]
    assert reasons["SHORT"]
    trained = [r for r in serial_rows if r.status == "trained"]
    assert all(r.verdict and r.samples > 0 and 0 <= r.accuracy <= 1 for r in trained)


def test_dask_local_cluster_equals_serial(serial_rows):
    import dask
    from distributed import LocalCluster

    # Real worker processes, forked from this one: specs, config and rows still cross process
    # boundaries through the scheduler (pickled, over TCP), but a worker does not pay a fresh
    # interpreter's import of candor (tens of seconds per worker on a loaded 2-core machine).
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}), \
            LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        seen = []
        rows = train_universe(_specs(), _config(dask=cluster.scheduler_address), dry_run=True,
                              on_progress=seen.append)
    assert _comparable(rows) == _comparable(serial_rows)
    assert seen[-1].done == 5 and seen[-1].failed == 2 and seen[-1].running == 0


def test_process_pool_equals_serial(serial_rows):
    rows = train_universe(_specs(), _config(jobs=2), dry_run=True)
    assert _comparable(rows) == _comparable(serial_rows)


def test_parallel_workers_on_a_fresh_home_all_register(tmp_path):
    """Two workers racing to create a fresh SQLite MLflow store used to lose a series.

    Right after the process-pool test on purpose: loky keeps its two workers for 10 s of idleness,
    so they are reused here instead of paying a fresh interpreter's imports again."""
    from candor.data.synthetic import random_walk
    from candor.services import open_services

    config = load_config(None, {"home": str(tmp_path / "fresh"), "models": {"models": ["logreg"]},
                                "split": {"folds": 3}, "labels": {"threshold": 0.01}, "universe": {"jobs": 2},
                                "evaluation": {"importance_repeats": 0, "n_boot": 100}}, environ={})
    specs = [SeriesSpec(f"P{i}", bars=random_walk(700, seed=20 + i, symbol=f"P{i}")) for i in range(2)]
    rows = train_universe(specs, config)
    assert [r.status for r in rows] == ["trained", "trained"], [r.reason for r in rows]
    with open_services(config) as services:
        assert sorted(m.name for m in services.registry.list_models()) == ["candor.P0.d1", "candor.P1.d1"]


def test_unreachable_dask_is_one_clear_error():
    with pytest.raises(ClusterError, match=r"`dask` scheduler 'tcp://127.0.0.1:1' is unreachable"):
        connect_dask("tcp://127.0.0.1:1", timeout=1)


def test_unreachable_dask_cli_exit_1(capsys):
    code = main(["train", "--all", "--datasets", "sp500", "--dask", "tcp://127.0.0.1:1", "--dry-run"])
    err = capsys.readouterr().err
    assert code == 1 and "is unreachable" in err


@pytest.mark.parametrize(("jobs", "cores", "threads"), [(1, 8, 8), (2, 2, 1), (3, 2, 1), (2, 8, 4)])
def test_processes_times_threads_never_exceed_cores(jobs, cores, threads):
    assert threads_per_process(jobs, cores) == threads
    assert jobs * threads <= max(cores, jobs)


def test_pinned_threads_limits_and_restores(monkeypatch):
    from threadpoolctl import threadpool_info

    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    with pinned_threads(1):
        assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["OPENBLAS_NUM_THREADS"] == "1"
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert os.environ["OMP_NUM_THREADS"] == "7"


def test_resolve_series_names_symbols_files_and_timeframes(tmp_path):
    from candor.data.datasets import DATASET_NAMES

    assert [s.dataset for s in resolve_series()] == list(DATASET_NAMES)
    specs = resolve_series(["SPX", "AAPL"], ["d1", "h4"])
    assert [(s.name, s.dataset, s.timeframe) for s in specs] == [
        ("SPX@d1", "sp500", "d1"), ("SPX@h4", "SPX", "h4"),  # no intraday SPX: fails when loaded
        ("AAPL@d1", "aapl", "d1"), ("AAPL@h4", "aapl_h1", "h4"),  # h4 resampled from the hourly bars
    ]
    path = tmp_path / "x.csv"
    path.write_text("ts,open,high,low,close,volume\n")
    assert resolve_series([str(path)])[0].data == str(path)


def test_resampled_timeframe_from_finer_bars():
    spec = resolve_series(["aapl_h1"], ["d1"])[0]
    bars = spec.load()
    assert bars.attrs["timeframe"] == "d1" and bars.attrs["symbol"] == "AAPL"


def test_cli_keep_going_and_log_json(tmp_path, capsys):
    from tests.tune.conftest import session_bars

    path = tmp_path / "good.csv"
    session_bars(700, seed=3, symbol="GOOD").to_csv(path)
    args = ["train", "--symbols", f"{path},nope", "--models", "logreg", "--folds", "3", "--threshold", "0.01",
            "--dry-run", "--log-json", "--fold-jobs", "1"]
    assert main(args) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["status"]) for r in rows] == [(str(path), "trained"), ("nope", "failed")]
    assert main([*args, "--keep-going"]) == 0


def test_dask_without_its_extra_names_the_extra(monkeypatch):
    """distributed is an extra: without it, --dask is one line naming the install, not an ImportError."""
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # what an environment without the extra imports
    with pytest.raises(ClusterError, match=r"needs the distributed package.*pip install 'candor\[dask\]'"):
        connect_dask("tcp://127.0.0.1:1", timeout=1)
