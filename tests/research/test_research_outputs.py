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
    return {"code": code, "doc": json.loads(out.read_text()), "oos": pd.read_parquet(parquet)}


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
