"""Power beside every verdict (issue 23 item 3): the minimum detectable lift and the bars +2 points need."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from candor.evaluate import TARGET_LIFT, Verdict, detectable_lift, evaluate_oos
from candor.records.evaluation import Evaluation

CLASSES = np.array([-1, 1])


def _random_walk_case(n: int, seed: int, edge: float = 0.0) -> dict:
    """Direction labels of a Gaussian random walk, a skill-less model (its calls a coin, or right with
    probability 0.5 + ``edge``) and the majority baseline, as evaluate_oos takes them."""
    rng = np.random.default_rng(seed)
    close = np.cumsum(rng.normal(size=n + 1))
    y = np.where(np.diff(close) > 0, 1, -1)
    right = rng.random(n) < 0.5 + edge
    pred = np.where(right, y, -y)
    proba = np.where(pred[:, None] == CLASSES[None, :], 0.6, 0.4)
    majority = np.full(n, 1 if (y == 1).mean() >= 0.5 else -1)
    return {"y_true": y, "proba": proba, "classes": CLASSES, "baseline_preds": {"majority": majority},
            "horizon": 1, "n_boot": 300, "block": 5}


def test_random_walk_mde_is_positive_and_shrinks_as_one_over_root_n():
    small = evaluate_oos(**_random_walk_case(1_000, 1))
    large = evaluate_oos(**_random_walk_case(4_000, 2))
    for ev in (small, large):
        assert ev.verdict == Verdict.NO_SIGNIFICANT_EDGE
        assert ev.mde > 0 and ev.mde_power == 0.8
        # ≈ (z_0.975 + z_0.8) · se for many blocks (the t solver gives a little more)
        normal = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * ev.lift_se
        assert normal < ev.mde < 1.05 * normal
    assert large.mde / small.mde == pytest.approx(0.5, rel=0.15)  # four times the rows: half the MDE
    # rows for +2 points: n · (mde / 0.02)² − n, up to the t solver's small-sample excess
    assert small.bars_for_2pt == pytest.approx(1_000 * (small.mde / TARGET_LIFT) ** 2 - 1_000, rel=0.05)
    assert large.bars_for_2pt < small.bars_for_2pt
    assert json.loads(small.model_dump_json())["mde"] == pytest.approx(small.mde)  # the JSON key
    text = small.power_text()
    assert text.startswith(f"none larger than {100 * small.mde:.1f} points at 80% power; ")
    assert f"{small.bars_for_2pt:,} more bars would detect +2 points" in text


def test_a_planted_edge_larger_than_the_mde_is_detected():
    null = evaluate_oos(**_random_walk_case(2_000, 3))
    planted = evaluate_oos(**_random_walk_case(2_000, 3, edge=2 * null.mde))
    assert planted.lift > planted.mde
    assert planted.verdict == Verdict.SIGNIFICANT_EDGE and planted.p_value < 0.05
    assert planted.power_text() == f"this test detects {100 * planted.mde:.1f} points at 80% power"


def test_detectable_lift_edges():
    few = detectable_lift(0.01, 4, 10, 50, alpha=0.05)  # 5 blocks: the t reference needs more than 2.8 se
    assert few.mde > 3.5 * 0.01
    assert detectable_lift(0.001, 400, 5, 2_000, alpha=0.05).bars_for_target == 0  # already sees 2 points
    constant = detectable_lift(0.0, 10, 5, 100, alpha=0.05)  # no spread: nothing to say
    assert (constant.mde, constant.bars_for_target) == (None, None)
    assert Evaluation(verdict="no significant edge").power_text() == ""  # stored before power was reported


def test_universe_rows_print_the_mde_beside_the_verdict():
    from rich.console import Console

    from candor.application.universe import UniverseRow
    from candor.cli.render import render_universe

    row = UniverseRow("sp500", "SPX", "d1", "trained", samples=2_000, accuracy=0.51, best_baseline="majority",
                      baseline_accuracy=0.52, lift=-0.01, lift_ci_low=-0.03, lift_ci_high=0.01,
                      verdict="no significant edge", p_value=0.3, mde=0.031, bars_for_2pt=2_805)
    console = Console(record=True, width=250)
    render_universe(console, [row, UniverseRow("x", "X", "d1", "failed", reason="too short")])
    text = console.export_text()
    assert "MDE at 80% power" in text and "3.1% (+2,805 bars for 2 pt)" in text
