"""Per-bar out-of-sample probabilities (``--oos-out``): one row per walk-forward test row, each
predicted by models that never trained on it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from candor.cli import main
from candor.config import load_config
from candor.data.synthetic import planted_signal
from candor.training.run import plan_rows, train, write_oos_table
from tests.training.conftest import CHEAP


def test_oos_table_rows_probabilities_and_no_training_row(tmp_path):
    config = load_config(environ={}, overrides={
        "models": {"models": ("logreg",)}, "split": {"folds": 3},
        "evaluation": {"n_boot": 100, "importance_repeats": 0},
    })
    bars = planted_signal(700, seed=8, strength=1.0)
    rows = plan_rows(bars, config)
    result = train(bars, config, rows=rows)
    path = write_oos_table(result.oos_rows, tmp_path / "oos.parquet")
    table = pd.read_parquet(path)
    # one row per out-of-sample row: the walk-forward's test rows, the same as the pooled report
    assert len(table) == sum(f.n_test for f in rows.folds) == len(result.oos_proba)
    assert list(table.columns[:2]) == ["ts", "fold"] and list(table.columns[-2:]) == ["label", "t1"]
    for prefix in ("p_logreg_", "p_ensemble_"):
        block = table[[c for c in table.columns if c.startswith(prefix)]]
        assert block.shape[1] == len(np.unique(rows.data.y))
        np.testing.assert_allclose(block.sum(axis=1), 1.0, atol=1e-9)
    ensemble = table[[c for c in table.columns if c.startswith("p_ensemble_")]].to_numpy()
    np.testing.assert_allclose(ensemble, result.oos_proba.to_numpy())
    times = rows.data.y.index
    for fold in rows.folds:
        in_fold = table.loc[table["fold"] == fold.index + 1]
        assert len(in_fold) == fold.n_test
        assert not pd.DatetimeIndex(in_fold["ts"]).isin(times[fold.train]).any()
        np.testing.assert_array_equal(in_fold["label"].to_numpy(), rows.data.y.to_numpy()[fold.test])
        # no training label interval reaches the fold's first test bar
        assert (rows.data.t1.iloc[fold.train] < in_fold["ts"].iloc[0]).all()
    assert (table["t1"] >= table["ts"]).all()


def test_an_unwritable_oos_out_is_refused_before_training(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["train", "--data", str(tmp_path / "missing.csv"), *CHEAP, "--dry-run",
                 "--oos-out", str(blocker / "oos.parquet")])
    assert code == 3 and "--oos-out" in capsys.readouterr().err


def test_cpcv_paths_cover_every_development_row_once_per_path():
    from candor.training.cpcv import cpcv_paths, describe

    config = load_config(environ={}, overrides={
        "models": {"models": ("logreg",)}, "split": {"folds": 3, "cv": "cpcv", "cpcv_groups": 4, "cpcv_test_groups": 2},
    })
    rows = plan_rows(planted_signal(700, seed=8, strength=1.0), config)
    cpcv = cpcv_paths(rows.data, rows.dev, config)
    assert (cpcv["n_splits"], cpcv["n_paths"], cpcv["rows"]) == (6, 3, len(rows.dev))
    assert len(cpcv["path_accuracy"]) == 3 and all(0 <= a <= 1 for a in cpcv["path_accuracy"])
    acc = cpcv["accuracy"]
    assert acc["q00"] <= acc["q50"] <= acc["q100"] and acc["q00"] == pytest.approx(min(cpcv["path_accuracy"]), abs=1e-6)
    assert cpcv["sharpe_per_row"] is not None and "CPCV 3 paths" in describe(cpcv)
