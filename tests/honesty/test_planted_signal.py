"""With a real, planted edge candor must find it — and lose it again when labels are shuffled."""

from __future__ import annotations

import numpy as np

from candor.data.synthetic import planted_signal
from candor.records.verdict import Verdict
from candor.training.matrix import build_labelled_data, data_fingerprint
from candor.training.run import train, train_labelled
from tests.honesty.conftest import BARS, SEEDS

STRENGTH = 1.0  # see planted_signal: noise variance 0.6·σ², the rest is the planted reversal


def test_planted_signal_is_found_on_at_least_18_of_20_seeds(cheap_config):
    reports = [train(planted_signal(BARS, seed=seed, strength=STRENGTH), cheap_config).oos for seed in SEEDS]
    found = [r for r in reports if r.verdict == Verdict.SIGNIFICANT_EDGE and r.lift > 0]
    assert len(found) >= 18, [(round(r.lift, 3), round(r.p_value, 3)) for r in reports]


def _block_shuffled(y, block: int, seed: int):
    """Permute whole blocks of labels: breaks the feature→label link, keeps label autocorrelation."""
    rng = np.random.default_rng(seed)
    values = y.to_numpy()
    blocks = [values[i:i + block] for i in range(0, len(values), block)]
    order = rng.permutation(len(blocks))
    return y.copy(deep=True).set_axis(y.index).__class__(np.concatenate([blocks[i] for i in order]), index=y.index)


def test_shuffled_labels_score_at_the_baseline(cheap_config):
    bars = planted_signal(BARS, seed=3, strength=STRENGTH)
    data = build_labelled_data(bars, cheap_config.features, cheap_config.labels)
    honest = train_labelled(data, cheap_config, symbol="PLANT", timeframe="d1", fingerprint=data_fingerprint(bars))
    shuffled_y = _block_shuffled(data.y, block=50, seed=7)
    shuffled = train_labelled(
        data.__class__(X=data.X, y=shuffled_y, t1=data.t1, labels=data.labels, feature_set=data.feature_set),
        cheap_config, symbol="PLANT", timeframe="d1", fingerprint="shuffled",
    )
    assert honest.oos.verdict == Verdict.SIGNIFICANT_EDGE
    assert shuffled.oos.verdict == Verdict.NO_SIGNIFICANT_EDGE
    assert shuffled.oos.lift_ci_low <= 0.0
    assert shuffled.oos.accuracy < honest.oos.accuracy - 0.03
