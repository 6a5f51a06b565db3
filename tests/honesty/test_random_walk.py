"""On a random walk there is nothing to learn: candor must say "no significant edge"."""

from __future__ import annotations

from candor.data.synthetic import random_walk
from candor.records.verdict import Verdict
from candor.training.run import train
from tests.honesty.conftest import BARS, SEEDS


def test_random_walk_rarely_shows_a_significant_edge(cheap_config):
    verdicts = [train(random_walk(BARS, seed=seed), cheap_config).oos for seed in SEEDS]
    significant = [r for r in verdicts if r.verdict == Verdict.SIGNIFICANT_EDGE]
    # At a 5% level, 20 independent nulls give more than 3 false positives with probability ~1.6%.
    assert len(significant) <= 3, [(r.lift, r.p_value) for r in significant]
    # And the reported lifts centre on zero rather than on a phantom edge.
    mean_lift = sum(r.lift for r in verdicts) / len(verdicts)
    assert mean_lift < 0.02
