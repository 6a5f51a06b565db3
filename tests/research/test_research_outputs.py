"""`candor research` takes what `candor train` takes (issue 23 items 2 and 5): `--source db` (the
stored series, read as train reads them), `--oos-out` (every cell's per-bar out-of-sample
probabilities) and `--cv cpcv` (each cell's path distribution). One cheap stored series and one
missing one, searched once through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from candor.cli import main
from candor.data.synthetic import planted_signal

GRID = ["--horizons", "5", "--thresholds", "0.002", "--models", "logreg", "--feature-groups", "returns",
        "--folds", "3", "--n-boot", "100"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    from candor.config import load_config
    from candor.services import open_store
    from candor.store.bars import import_bars

    folder = tmp_path_factory.mktemp("research_db")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CANDOR_HOME", str(folder / "home"))
        mp.chdir(folder)
        with open_store(load_config(None, {"home": str(folder / "home")}, environ={})) as store:
            import_bars(store.engine, planted_signal(900, seed=2, symbol="PLDB"))
        out, parquet = folder / "research.json", folder / "oos.parquet"
        code = main(["research", "--source", "db", "--symbols", "PLDB,NOPE", "--timeframes", "d1", *GRID,
                     "--cv", "cpcv", "--oos-out", str(parquet), "--keep-going", "--output-json", str(out)])
    return {"code": code, "doc": json.loads(out.read_text()), "oos": pd.read_parquet(parquet), "folder": folder}


def test_source_db_reads_the_stored_series_and_a_missing_one_is_a_row(stored):
    cells = {c["series"]: c for c in stored["doc"]["cells"]}
    assert stored["code"] == 0 and set(cells) == {"PLDB@d1", "NOPE@d1"}
    assert cells["PLDB@d1"]["status"] == "evaluated" and cells["PLDB@d1"]["n_rows"] > 300
    assert cells["NOPE@d1"]["status"] == "failed" and "no NOPE/d1 bars" in cells["NOPE@d1"]["reason"]


def test_cv_cpcv_gives_each_cell_its_path_distribution(stored):
    cpcv = next(c for c in stored["doc"]["cells"] if c["status"] == "evaluated")["cpcv"]
    assert cpcv["n_groups"] == 6 and cpcv["n_test_groups"] == 2 and cpcv["n_paths"] == 5
    assert len(cpcv["path_accuracy"]) == 5 and 0 <= cpcv["accuracy"]["q00"] <= cpcv["accuracy"]["q50"] <= 1


def test_oos_out_holds_each_cells_pooled_rows(stored):
    oos, cell = stored["oos"], next(c for c in stored["doc"]["cells"] if c["status"] == "evaluated")
    assert list(oos.columns[:4]) == ["series", "cell", "ts", "fold"] and {"label", "t1"} <= set(oos.columns)
    assert len(oos) == cell["n_rows"] and set(oos["series"]) == {"PLDB@d1"} and oos["ts"].is_monotonic_increasing
    assert (oos["t1"] > oos["ts"]).all() and set(oos["fold"]) == {1, 2, 3}
    ensemble = oos[[c for c in oos.columns if c.startswith("p_ensemble_")]]
    classes = np.array([{"bearish": -1, "neutral": 0, "bullish": 1}[c.rsplit("_", 1)[1]] for c in ensemble.columns])
    accuracy = float(np.mean(classes[ensemble.to_numpy().argmax(axis=1)] == oos["label"].to_numpy()))
    assert accuracy == pytest.approx(cell["accuracy"])  # the cell's own out-of-sample accuracy, from the file


@pytest.mark.parametrize("argv, pattern", [
    (["--source", "db", "--data", "x.csv"], r"drop --data / --dataset"),
    (["--source", "db", "--symbols", "PLDB"], r"--source db. reads stored series|`timeframes` must name"),
    (["--source", "file", "--symbols", "PLDB", "--timeframes", "d1"], r"must be db"),
])
def test_bad_source_is_one_line_exit_3(argv, pattern, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CANDOR_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["research", *argv]) == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and __import__("re").search(pattern, err), err
    assert not (tmp_path / "home").exists()


def test_a_second_search_counts_the_first_ones_ledger_trials(stored, monkeypatch, capsys):
    """Issue 23 item 1: research's correction counts the target's earlier ledger trials (read before
    this run writes its own) by the universe's Šidák rule. The second search of PLDB's target says
    the first one's trial and its adjusted p-value is not smaller (the raw p is the same: `--cv` and
    `--oos-out` leave the walk-forward alone); after 10,000 more recorded trials nothing survives."""
    from candor.store import connect_store
    from candor.store.ledger import record_trial, trials

    monkeypatch.setenv("CANDOR_HOME", str(stored["folder"] / "home"))
    monkeypatch.chdir(stored["folder"])
    out, url = stored["folder"] / "again.json", f"sqlite:///{stored['folder'] / 'home' / 'candor.db'}"

    def search() -> dict:
        assert main(["research", "--source", "db", "--symbols", "PLDB", "--timeframes", "d1", *GRID,
                     "--output-json", str(out)]) == 0
        return json.loads(out.read_text())["cells"][0]

    first, second = next(c for c in stored["doc"]["cells"] if c["status"] == "evaluated"), search()
    assert (first["n_prior_trials"], second["n_prior_trials"]) == (0, 1)
    assert second["p_value"] == pytest.approx(first["p_value"])
    assert first["p_value"] <= first["p_adjusted"] <= second["p_adjusted"] <= 1
    with connect_store(url) as store:
        rows = trials(store.engine, symbol="PLDB")
        assert [r.prior_trials for r in rows] == [0, 1]  # each row's count is the one its search used
        record_trial(store.engine, rows[-1].model_copy(update={"n_trials": 10_000, "prior_trials": 2}))
    capsys.readouterr()
    third = search()
    assert third["n_prior_trials"] == 10_002 and third["p_adjusted"] > 0.99 > third["p_value"]
    assert "Šidák for 10002 earlier ledger trial(s) per target" in " ".join(capsys.readouterr().out.split())
    assert not third["survives"]


def _not_searched(*args, **kwargs):
    pytest.fail("the search ran before the trial ledger was checked")


def test_a_ledger_from_a_newer_schema_is_refused_before_the_search_and_left_as_it_was(stored, tmp_path,
                                                                                      monkeypatch, capsys):
    """Issue 23: the ledger the cells will be written to is checked before any cell is computed
    (parse, validate, open, compute): a ledger written by a newer candor refuses the search in one
    line, the search never runs, and the ledger is left byte for byte."""
    import shutil
    import sqlite3

    from candor.application import research
    from candor.store.migrate import head_revision

    shutil.copytree(stored["folder"] / "home", home := tmp_path / "home")
    with sqlite3.connect(home / "candor.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    before, names = (home / "candor.db").read_bytes(), sorted(p.name for p in home.iterdir())
    monkeypatch.setattr(research, "_run", _not_searched)
    monkeypatch.setenv("CANDOR_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert main(["research", "--dataset", "sp500", *GRID]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: database schema is at revision 9999_from_the_future, newer than this candor (head "
        f"{head_revision()}); upgrade candor"]
    assert (home / "candor.db").read_bytes() == before and sorted(p.name for p in home.iterdir()) == names


def test_the_up_front_check_only_reads_an_older_embedded_ledger(stored, tmp_path):
    """An embedded ledger at an older schema passes the check unchanged: it is migrated only when the
    trials are written (a search refused in between leaves it as it was)."""
    import shutil
    import sqlite3

    from candor.application.ledger import check_ledger
    from candor.config import load_config

    shutil.copytree(stored["folder"] / "home", home := tmp_path / "home")
    with sqlite3.connect(home / "candor.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001_initial'")
    before = (home / "candor.db").read_bytes()
    check_ledger(load_config(None, {"home": str(home)}, environ={}))
    assert (home / "candor.db").read_bytes() == before


def test_an_unreachable_ledger_database_is_refused_before_the_search(tmp_path, monkeypatch, capsys):
    """A configured database that does not answer refuses the search in one line (its password not
    shown) before any cell runs, and ``<home>`` is not created."""
    from candor.application import research

    monkeypatch.setattr(research, "_run", _not_searched)
    monkeypatch.setenv("CANDOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CANDOR_DATABASE_URL", "postgresql+psycopg://u:SECRET@127.0.0.1:1/x")
    monkeypatch.chdir(tmp_path)
    assert main(["research", "--dataset", "sp500", *GRID]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "SECRET" not in err, err
    assert "cannot connect to postgresql+psycopg://u:***@127.0.0.1:1/x" in err, err
    assert not (tmp_path / "home").exists()
