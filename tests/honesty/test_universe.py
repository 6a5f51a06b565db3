"""Random walks have nothing to learn: candor must say "no significant edge" — per series, and,
judged together as one universe, it must not produce a crop of "edges" either.

One universe of 50 random walks (the real ``train_universe`` → ``run_training`` → ``train`` path)
serves both claims: the per-series verdicts of its first 20 walks are the 20 independent nulls of
the per-series test (it used to train 20 more walks of the same length and config for that; the
claim and its power are the same on any 20 independent walks), and all 50 are the universe."""

from __future__ import annotations

import numpy as np
import pytest

from candor.data.synthetic import random_walk
from candor.records.verdict import Verdict
from candor.training.multiplicity import adjust, adjust_p_values
from candor.application.universe import SeriesSpec, train_universe
from tests.honesty.conftest import BARS

N_SERIES = 50


@pytest.fixture(scope="module")
def random_walk_universe(cheap_config):
    config = cheap_config.model_copy(update={"universe": cheap_config.universe.model_copy(update={"jobs": 1})})
    specs = [SeriesSpec(f"RW{i}", bars=random_walk(BARS, seed=1000 + i, symbol=f"RW{i}")) for i in range(N_SERIES)]
    return train_universe(specs, config, dry_run=True, track=False)


def test_random_walk_rarely_shows_a_significant_edge(random_walk_universe):
    rows = random_walk_universe[:20]  # 20 independent random walks, each judged on its own
    assert [r.status for r in rows] == ["trained"] * 20, [r.reason for r in rows if r.status != "trained"]
    significant = [r for r in rows if r.verdict == Verdict.SIGNIFICANT_EDGE]
    # At a 5% level, 20 independent nulls give more than 3 false positives with probability ~1.6%.
    assert len(significant) <= 3, [(r.lift, r.p_value) for r in significant]
    # And the reported lifts centre on zero rather than on a phantom edge.
    mean_lift = sum(r.lift for r in rows) / len(rows)
    assert mean_lift < 0.02


def test_fifty_random_walks_give_at_most_one_adjusted_edge(random_walk_universe):
    rows = random_walk_universe
    assert [r.status for r in rows] == ["trained"] * N_SERIES, [r.reason for r in rows if r.status != "trained"]
    assert {r.correction for r in rows} == {"bh"}
    assert all(r.adjusted_p_value >= r.p_value for r in rows)  # adjusting never makes a test easier
    adjusted_edges = [r for r in rows if r.adjusted_verdict == Verdict.SIGNIFICANT_EDGE]
    assert len(adjusted_edges) <= 1, [(r.name, r.p_value, r.adjusted_p_value) for r in adjusted_edges]


def test_adjusted_p_values_match_the_textbook_procedures():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    # Benjamini–Hochberg: sorted p · m / rank, made monotone from the top.
    np.testing.assert_allclose(adjust_p_values(p, "bh"), [0.025, 0.05, 0.05, 0.025, 0.5])
    # Holm: sorted p · (m − rank + 1), made monotone from the bottom, capped at 1.
    np.testing.assert_allclose(adjust_p_values(p, "holm"), [0.04, 0.09, 0.09, 0.025, 0.5])
    np.testing.assert_allclose(adjust_p_values(p, "none"), p)


def test_adjusted_verdict_keeps_the_direction_of_the_lift():
    judged = adjust([0.001, 0.001, 0.2], [0.04, -0.05, 0.01], method="holm", alpha=0.05)
    assert [j.verdict for j in judged] == [Verdict.SIGNIFICANT_EDGE, Verdict.SIGNIFICANTLY_WORSE,
                                           Verdict.NO_SIGNIFICANT_EDGE]
    assert {j.n_series for j in judged} == {3}
