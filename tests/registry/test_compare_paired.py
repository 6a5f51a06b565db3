"""Champion vs challenger by the paired test (issue 23 item 4): both re-scored on the challenger's
holdout rows, the per-row difference tested; "worse" only when significantly worse; failed gates
reported as such, whatever the accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from registry_helpers import Lookup, make_stores, registered, report

from candor.data.synthetic import random_walk
from candor.labels import LabelSpec, make_labels
from candor.registry import CHAMPION, Registry
from candor.registry.common import RegisteredVersion
from candor.registry.publish import _promote_if_not_worse

NAME = "candor.SPX.d1"
HOLDOUT = {"holdout_start": "2011-06-01", "holdout_end": "2012-08-01"}


def _answers(truth: pd.Series, right: np.ndarray) -> pd.Series:
    """Predictions equal to the truth where ``right``, another class elsewhere."""
    wrong = truth.map({-1: 1, 0: -1, 1: -1})
    return truth.where(right, wrong)


@pytest.fixture(scope="module")
def versions(tmp_path_factory, store_templates):
    """v1 (champion, right on 70% of the holdout rows), v2 (right on 45%: significantly worse), v3 (v1's
    predictions with 10 rows made right and 10 made wrong: lift exactly 0), v4 (right on 90% but its
    gates failed); the bars they are re-scored on."""
    folder = tmp_path_factory.mktemp("paired")
    stores = make_stores(folder / "home", store_templates)
    bars = random_walk(1_000, seed=3, symbol="SPX")
    y = make_labels(bars, LabelSpec()).y
    truth = y[(y.index >= HOLDOUT["holdout_start"]) & (y.index <= HOLDOUT["holdout_end"])].astype(int)
    rng = np.random.default_rng(0)
    champion_right = rng.random(len(truth)) < 0.70
    swap = rng.permutation(np.flatnonzero(~champion_right))[:10], rng.permutation(np.flatnonzero(champion_right))[:10]
    level = champion_right.copy()
    level[swap[0]], level[swap[1]] = True, False
    reg = Registry(stores.client, stores.engine)
    for i, (right, rep) in enumerate([(champion_right, report()), (rng.random(len(truth)) < 0.45, report()),
                                      (level, report()), (rng.random(len(truth)) < 0.90, report(0.5))], start=1):
        registered(reg, stores, folder / f"v{i}", rep=rep, estimator=Lookup(_answers(truth, right)), **HOLDOUT)
    reg.promote(NAME, "1", actor="test")
    yield reg, bars, stores
    stores.engine.dispose()


def test_significantly_worse_is_refused_with_its_p_value(versions):
    reg, bars, _ = versions
    worse = reg.compare(NAME, "2", bars=bars, n_boot=300)
    assert worse.tested and worse.rows > 300 and worse.block_length >= 5  # ≥ the label horizon
    assert worse.lift == pytest.approx(worse.challenger_accuracy - worse.champion_accuracy)
    assert worse.lift_ci_high < 0 and worse.p_value < 0.05 and worse.significantly_worse
    assert not worse.challenger_wins and worse.verdict == "significantly worse"
    assert f"p = {worse.p_value:.3f}" in worse.summary() and "— significantly worse" in worse.summary()
    note = _promote_if_not_worse(reg, RegisteredVersion(NAME, "2", None, "validated", ""), "test", "why", 0.0, bars,
                                 n_boot=300)
    assert not note.promoted and note.note.startswith("not promoted: challenger 2 ")
    assert "significantly worse" in note.note and f"p = {worse.p_value:.3f}" in note.note
    assert str(reg.version(NAME, CHAMPION).version) == "1"
    # the validated loser runs as the shadow: live forecasts, not training numbers, decide from here
    assert f"now the shadow of {NAME}" in note.note and reg.shadow_index().get(NAME) == "2"


def test_failed_gates_with_higher_accuracy_says_failed_gates_not_worse(versions):
    reg, bars, _ = versions
    failed = reg.compare(NAME, "4", bars=bars, n_boot=300, promote=True)
    assert failed.challenger_accuracy > failed.champion_accuracy and failed.lift_ci_low > 0
    assert failed.failed_gates and not failed.challenger_wins and not failed.promoted
    assert failed.verdict == "significantly better"
    assert failed.summary().endswith("— significantly better; the challenger failed its gates")
    assert "worse" not in failed.summary()


def test_not_significantly_different_is_promoted_and_the_cli_prints_the_test(versions, monkeypatch, tmp_path, capsys):
    reg, bars, stores = versions
    same = reg.compare(NAME, "3", bars=bars, n_boot=300, promote=True, actor="test")
    assert same.lift == pytest.approx(0.0) and same.lift_ci_low < 0 < same.lift_ci_high and same.p_value > 0.5
    assert same.verdict == "not significantly different" and same.challenger_wins and same.promoted
    assert str(reg.version(NAME, CHAMPION).version) == "3"
    # the CLI: the same comparison from a bars file, printing lift, CI, p and the verdict
    from candor.cli import main
    from candor.cli.app import console

    monkeypatch.setattr(console, "width", 300)
    monkeypatch.setenv("CANDOR_HOME", str(stores.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("CANDOR_DATABASE_URL", raising=False)
    csv = tmp_path / "spx.csv"
    bars.rename_axis("date").to_csv(csv)
    assert main(["registry", "compare", NAME, "2", "--champion", "1", "--data", str(csv)]) == 0
    out = capsys.readouterr().out
    assert f"lift {100 * (reg.compare(NAME, '2', '1', bars=bars, n_boot=300).lift):+.1f}%" in out
    assert "[95% CI " in out and "p = 0.000 — significantly worse" in out and "paired test on the challenger" in out
