"""Issue 23's done-when for the trial ledger, through the CLI: a second `candor train` on the same
target raises the target's ledger count and lowers its Deflated Sharpe; a dry run counts and is
recorded where the store exists, and leaves a fresh home as it was."""

from __future__ import annotations

import json

import pytest

from candor.cli import main
from candor.data.synthetic import planted_signal
from tests.templates import seed_home
from tests.wiring.homes import snapshot

CHEAP = ["--symbol", "PLANT", "--timeframe", "d1", "--models", "logreg", "--folds", "3", "--calendar", "24/7",
         "--fold-jobs", "1"]


@pytest.fixture
def bars_csv(home, tmp_path):
    """A planted signal weak enough that its Deflated Sharpe is inside (0, 1), and a cheap evaluation
    (candor.toml in the working directory, which the ``home`` fixture made ``tmp_path``)."""
    (tmp_path / "candor.toml").write_text("[evaluation]\nn_boot = 200\nimportance_repeats = 1\n")
    path = tmp_path / "plant.csv"
    planted_signal(1200, seed=4, strength=0.6).to_csv(path)
    return path


def _train(tmp_path, bars_csv, name, *extra) -> dict:
    out = tmp_path / f"{name}.json"
    assert main(["train", "--data", str(bars_csv), *CHEAP, *extra, "--output-json", str(out)]) in (0, 2)
    return json.loads(out.read_text())


def test_a_second_training_raises_the_ledger_count_and_lowers_the_deflated_sharpe(home, tmp_path, bars_csv, capsys,
                                                                                  tmp_path_factory):
    seed_home(home, tmp_path_factory)  # migrated empty stores (an empty ledger): building MLflow's is not the point
    first = _train(tmp_path, bars_csv, "first")  # published: the ledger's first row
    second = _train(tmp_path, bars_csv, "second", "--dry-run")  # a dry run is a trial too
    n = first["n_trials"]
    assert second["n_trials"] == 2 * n  # its own trials and the first run's, from the ledger
    assert {"field": "ledger.prior_trials", "value": n}.items() <= next(
        d for d in second["derived"] if d["field"] == "ledger.prior_trials").items()
    assert second["backtest"]["sharpe"] == first["backtest"]["sharpe"]  # same bars, same seeds, same trades
    assert 0 < second["backtest"]["deflated_sharpe"] < first["backtest"]["deflated_sharpe"] < 1

    capsys.readouterr()
    out = tmp_path / "ledger.json"
    assert main(["ledger", "--target", "PLANT/d1/h5", "--output-json", str(out)]) == 0
    assert "PLANT/d1/h5" in capsys.readouterr().out
    ledger = json.loads(out.read_text())
    rows = ledger["trials"]
    assert [(r["dry_run"], r["n_trials"], r["prior_trials"]) for r in rows] == [(False, n, 0), (True, n, n)]
    assert rows[1]["lift"] == second["oos"]["lift"] and rows[1]["p_value"] == second["oos"]["p_value"]
    assert rows[1]["deflated_sharpe"] == second["backtest"]["deflated_sharpe"]
    assert rows[0]["config_hash"] == first["config_hash"] and rows[0]["data_first"].startswith("2010-01-01")
    assert [(t["symbol"], t["trials"], t["rows"], t["dry_runs"]) for t in ledger["targets"]] == [("PLANT", 2 * n, 2, 1)]
    assert ledger["n_trials"] == 2 * n

    capsys.readouterr()
    assert main(["ledger", "--since", "2999-01-01"]) == 0  # nothing after that date
    assert "no trials recorded since 2999-01-01" in capsys.readouterr().out


def test_a_dry_run_in_a_fresh_home_records_nothing_and_creates_nothing(home, tmp_path, bars_csv):
    report = _train(tmp_path, bars_csv, "dry", "--dry-run")
    assert not any(d["field"] == "ledger.prior_trials" for d in report["derived"])
    assert snapshot(home) is None  # no home, no candor.db: the ledger is not created for a dry run
