"""`candor research` (issue 23 item 2): the done-when search, the ledger, bad input, the
statistics (Romano-Wolf on arch's SPA/StepM, PBO by CSCV against a hand-computed case) and the
no-repeated-work rule. One module search (10 series, 1 horizon, 2 thresholds, logreg, 3 folds)
shared by the CLI tests; everything else runs on a few hundred rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from candor.cli import main
from candor.data.synthetic import planted_signal, random_walk

CHEAP = ["--calendar", "24/7", "--horizons", "5", "--thresholds", "0.002,0.005", "--models", "logreg",
         "--feature-groups", "returns,momentum", "--folds", "3", "--n-boot", "200"]


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """8 random walks, 2 planted signals and one series too short for the features' warm-up,
    searched once through the CLI with --keep-going and --output-json."""
    folder = tmp_path_factory.mktemp("research")
    files = []
    for i in range(8):
        random_walk(1500, seed=100 + i, symbol=f"RW{i}").to_csv(path := folder / f"rw{i}.csv")
        files.append(path)
    for i in range(2):
        planted_signal(1500, seed=i, symbol=f"PL{i}").to_csv(path := folder / f"pl{i}.csv")
        files.append(path)
    random_walk(300, seed=9, symbol="SHORT").to_csv(short := folder / "short.csv")
    out = folder / "research.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CANDOR_HOME", str(folder / "home"))
        mp.chdir(folder)
        argv = ["research", *[a for f in [*files, short] for a in ("--data", str(f))], *CHEAP, "--keep-going",
                "--output-json", str(out)]
        code = main(argv)
    return {"code": code, "doc": json.loads(out.read_text()), "home": folder / "home", "folder": folder}


def test_done_when_no_random_walk_survives_and_a_planted_signal_does(search):
    doc = search["doc"]
    evaluated = [c for c in doc["cells"] if c["status"] == "evaluated"]
    assert doc["n_cells"] == len(evaluated) == 20
    assert not [c["cell"] for c in evaluated if c["series"].startswith("RW") and c["survives"]]
    assert any(c["survives"] for c in evaluated if c["series"].startswith("PL"))
    assert doc["n_survivors"] == sum(c["survives"] for c in evaluated)
    for c in evaluated:  # the keys the issue names; an adjusted p is never below the raw one
        assert {"series", "horizon", "label", "lift", "p_value", "p_adjusted", "survives"} <= c.keys()
        assert c["horizon"] == 5 and c["label"] == "threshold"
        assert c["p_value"] <= c["p_adjusted"] <= 1
        assert c["survives"] == (c["p_adjusted"] < 0.05 and c["lift"] > 0)
    assert 0 <= doc["pbo"] <= 1
    assert doc["sentence"] == f"{doc['n_survivors']} of 20 configurations survive the search (2 failed); PBO {doc['pbo']:.2f}"


def test_a_short_series_is_a_row_with_its_reason_and_the_others_continue(search):
    failed = [c for c in search["doc"]["cells"] if c["status"] == "failed"]
    assert [c["series"] for c in failed] == ["SHORT", "SHORT"]
    assert all("300 bars are too few for horizon 5" in c["reason"] for c in failed)
    assert search["code"] == 0  # --keep-going


def test_every_evaluated_cell_is_a_ledger_trial_and_nothing_is_registered(search):
    from candor.store import connect_store
    from candor.store.ledger import trials

    with connect_store(f"sqlite:///{search['home'] / 'candor.db'}") as store:
        rows = trials(store.engine)
    assert len(rows) == 20 and {r.command for r in rows} == {"candor research"} and all(r.dry_run for r in rows)
    assert {(r.symbol, r.horizon, r.label_kind) for r in rows} >= {("PL0", 5, "threshold"), ("RW7", 5, "threshold")}
    by_lift = {(r.symbol, r.label): r.lift for r in rows}
    cell = next(c for c in search["doc"]["cells"] if c["series"] == "PL0" and c["threshold"] == 0.002)
    assert by_lift[("PL0", "threshold ±0.20% over 5 bars")] == pytest.approx(cell["lift"])
    assert not (search["home"] / "mlflow.db").exists() and not (search["home"] / "models").exists()


def test_short_series_alone_exits_1_without_keep_going(search, monkeypatch, capsys):
    monkeypatch.setenv("CANDOR_HOME", str(search["folder"] / "home2"))
    code = main(["research", "--data", str(search["folder"] / "short.csv"), *CHEAP])
    out = capsys.readouterr().out
    assert code == 1
    assert "0 of 0 configurations survive the search (2 failed); PBO n/a" in out


@pytest.mark.parametrize("argv, pattern", [
    (["research", "--horizons", "5"], r"the research grid is empty: no series \(--data, --dataset or --symbols\)"),
    (["research", "--dataset", "sp500", "--horizons", ","], r"the research grid is empty: no --horizons"),
    (["research", "--dataset", "sp500", "--horizons", "x"], r"`--horizons` must be a comma list of integers"),
    (["research", "--dataset", "sp500", "--labels", "up"], r"`--labels` must be among threshold, volscaled"),
    (["research", "--dataset", "sp500", "--models", "nope"], r"research cell h5/threshold±0.002/nope/all:"),
    (["research", "--dataset", "sp500", "--feature-groups", "colour"], r"`--feature-groups` must name groups"),
])
def test_bad_grids_are_one_line_exit_3(argv, pattern, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CANDOR_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and __import__("re").search(pattern, err), err
    assert not (tmp_path / "home").exists()


def test_unreachable_dask_is_one_line_exit_1(tmp_path, monkeypatch, capsys):
    from candor.application import research

    monkeypatch.setattr(research, "DASK_TIMEOUT", 0.5)
    monkeypatch.setenv("CANDOR_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["research", "--dataset", "sp500", "--dask", "tcp://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert "`dask` scheduler 'tcp://127.0.0.1:1' is unreachable" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "home").exists()  # refused before any cell ran and before the ledger is opened


# ------------------------------------------------------------------------------ statistics
def test_pbo_matches_a_hand_computed_case():
    from candor.training.snooping import pbo_cscv

    # 4 blocks x 3 cells. Of the C(4,2) = 6 halves, {0,1} picks cell 0 (out of sample it ranks 1 of 3:
    # omega 1/4), {2,3} picks cell 1 (out of sample tied last with cell 2: rank 1.5, omega 0.375);
    # the other four pick cell 0 (first of a tie) and find it tied first out of sample (rank 2.5).
    m = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0.5], [0, 1, 0.5]], float)
    result = pbo_cscv(m)
    assert result.n_splits == 6 and result.pbo == pytest.approx(2 / 6)
    assert sorted(result.logits) == pytest.approx(sorted([math.log(1 / 3), math.log(0.375 / 0.625)]
                                                         + [math.log(0.625 / 0.375)] * 4))


def test_pbo_is_high_for_noise_and_low_for_one_real_edge():
    from candor.training.snooping import pbo_of_cells

    rng = np.random.default_rng(0)
    noise = [rng.normal(0, 1, 800) for _ in range(10)]
    assert pbo_of_cells(noise).pbo > 0.3
    assert pbo_of_cells([*noise, rng.normal(0.5, 1, 800)]).pbo < 0.05
    assert pbo_of_cells(noise[:1]) is None


def test_romano_wolf_finds_the_one_real_edge_and_agrees_with_stepm():
    from candor.training.snooping import romano_wolf

    rng = np.random.default_rng(1)
    d = np.column_stack([rng.normal(0.3, 1, 600), rng.normal(0, 1, 600), rng.normal(0.02, 1, 600),
                         rng.normal(-0.2, 1, 600)])
    test = romano_wolf(d, block=5, reps=300, alpha=0.05, seed=0)
    assert test.p_adjusted[0] < 0.05 and min(test.p_adjusted[1:]) >= 0.05
    assert test.p_adjusted[3] == 1.0  # a negative mean cannot be superior
    assert test.superior == (0,) == tuple(np.flatnonzero(test.p_adjusted < 0.05))
    assert test.spa_p_value == pytest.approx(test.p_adjusted[0])
    # more cells of noise can only raise the best noise cell's adjusted p (the search costs something)
    wider = romano_wolf(np.column_stack([d[:, 1:3], rng.normal(0, 1, (600, 20))]), block=5, reps=300, alpha=0.05, seed=0)
    narrow = romano_wolf(d[:, 1:3], block=5, reps=300, alpha=0.05, seed=0)
    assert wider.p_adjusted[:2].min() >= narrow.p_adjusted.min()


# ---------------------------------------------------------------- the same walk, no repeats
def test_a_cell_equals_candor_trains_oos_and_work_is_shared(monkeypatch):
    from candor.config import load_config
    from candor.training import search as search_module
    from candor.training.matrix import build_labelled_data
    from candor.training.run import train_labelled
    from candor.training.search import Cell, cell_config, search_series

    calls = {"features": 0, "labels": 0, "fits": []}
    real_features, real_labels, real_fit = search_module.compute_features, search_module.make_labels, search_module.fit_members

    def count(name, fn):
        def wrapped(*a, **k):
            calls[name] += 1
            return fn(*a, **k)
        return wrapped

    def fit(members, *a, **k):
        calls["fits"].append(tuple(members))
        return real_fit(members, *a, **k)

    monkeypatch.setattr(search_module, "compute_features", count("features", real_features))
    monkeypatch.setattr(search_module, "make_labels", count("labels", real_labels))
    monkeypatch.setattr(search_module, "fit_members", fit)
    config = load_config(None, {"split": {"folds": 3}, "evaluation": {"n_boot": 100, "importance_repeats": 0}},
                         environ={})
    bars = planted_signal(1500, seed=3)
    cells = [Cell(5, "threshold", 0.002, ("logreg",), ("returns",)),
             Cell(5, "threshold", 0.002, ("logreg", "gb"), ("returns",)),
             Cell(5, "threshold", 0.004, ("logreg",), ("returns", "momentum"))]
    results = search_series(bars, config, cells)
    assert [r.status for r in results] == ["evaluated"] * 3
    assert calls["features"] == 1 and calls["labels"] == 2  # once per series, once per threshold
    fits, b = calls["fits"], calls["fits"].count(("gb",))  # b: the first matrix's folds (+ warm-up block)
    assert b in (3, 4) and fits[:2 * b] == [("logreg",)] * b + [("gb",)] * b  # the gb cell reused logreg's fits
    assert set(fits[2 * b:]) == {("logreg",)} and len(fits) - 2 * b in (3, 4)  # the second matrix: logreg only
    one = cell_config(config, cells[0])
    trained = train_labelled(build_labelled_data(bars, one.features, one.labels), one, symbol="PLANT",
                             timeframe="d1", fingerprint="x")
    assert results[0].evaluation == trained.oos
    assert results[0].d.mean() == pytest.approx(trained.oos.lift)
