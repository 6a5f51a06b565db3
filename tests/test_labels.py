"""Labels: every kind hand-checked on a tiny series, t1, dropped tails, causality, speed, errors."""

from __future__ import annotations

import time
from statistics import stdev

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from candor.data.bars import make_bars
from candor.data.synthetic import random_walk
from candor.errors import ConfigError, DataError
from candor.labels import (
    BEARISH,
    BULLISH,
    CLASS_NAMES,
    NEUTRAL,
    LabelSpec,
    causal_sigma,
    make_labels,
)

B, N, U = BEARISH, NEUTRAL, BULLISH
# Two-bar returns of row i: close[i+2]/close[i] − 1, written out by hand:
#   i0 100.5/100 = +0.50%   i1 99/102 = −2.94%     i2 101/100.5 = +0.50%
#   i3 100.2/99 = +1.21%    i4 100.8/101 = −0.20%  i5 103/100.2 = +2.79%
CLOSES = [100.0, 102.0, 100.5, 99.0, 101.0, 100.2, 100.8, 103.0]


def bars_from(closes: list[float]) -> pd.DataFrame:
    close = np.asarray(closes)
    index = pd.date_range("2024-01-01", periods=len(close), freq="D")
    frame = pd.DataFrame(
        {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1.0},
        index=index,
    )
    return make_bars(frame, "TEST", "d1")


def test_class_constants() -> None:
    assert (BEARISH, NEUTRAL, BULLISH) == (-1, 0, 1)
    assert CLASS_NAMES == {-1: "BEARISH", 0: "NEUTRAL", 1: "BULLISH"}


def test_threshold_labels_by_hand() -> None:
    bars = bars_from(CLOSES)
    labels = make_labels(bars, LabelSpec("threshold", horizon=2, threshold=0.01))
    assert labels.y.tolist() == [N, B, N, U, N, U]
    assert labels.y.index.equals(bars.index[:6])  # last `horizon` rows dropped
    assert labels.t1.tolist() == bars.index[2:8].tolist()  # open time of bar i+2
    assert labels.y.dtype == np.int64 and str(labels.t1.dtype) == "datetime64[ns, UTC]"
    assert labels.ret.iloc[1] == pytest.approx(99 / 102 - 1)
    assert labels.counts() == {"BEARISH": 1, "NEUTRAL": 3, "BULLISH": 2}
    assert labels.distribution() == pytest.approx({"BEARISH": 1 / 6, "NEUTRAL": 0.5, "BULLISH": 1 / 3})


def test_threshold_zero_and_strict_inequality() -> None:
    # A return of exactly 0 is NEUTRAL with threshold 0; anything above is BULLISH.
    labels = make_labels(bars_from([100.0, 100.0, 101.0, 99.0]), LabelSpec(horizon=1, threshold=0))
    assert labels.y.tolist() == [N, U, B]


def test_binary_labels_by_hand() -> None:
    labels = make_labels(bars_from(CLOSES), LabelSpec("binary", horizon=2))
    assert labels.y.tolist() == [U, B, U, U, B, U]
    assert set(labels.counts()) == {"BEARISH", "BULLISH"}
    assert sum(labels.distribution().values()) == pytest.approx(1.0)


def test_volscaled_labels_by_hand() -> None:
    # Past two-bar returns E_j = close[j]/close[j−2] − 1, known at the close of bar j.
    past = {2: 100.5 / 100 - 1, 3: 99 / 102 - 1, 4: 101 / 100.5 - 1, 5: 100.2 / 99 - 1}
    sigma4 = stdev([past[2], past[3], past[4]])  # ≈ 1.98%: threshold 0.99%
    sigma5 = stdev([past[3], past[4], past[5]])  # ≈ 2.22%: threshold 1.11%
    sigma = causal_sigma(np.asarray(CLOSES), horizon=2, window=3)
    assert np.isnan(sigma[:4]).all()
    assert sigma[4] == pytest.approx(sigma4) and sigma[5] == pytest.approx(sigma5)
    bars = bars_from(CLOSES)
    labels = make_labels(bars, LabelSpec("volscaled", horizon=2, vol_k=0.5, vol_window=3))
    # row 4: −0.20% inside ±0.99% → NEUTRAL; row 5: +2.79% above 1.11% → BULLISH
    assert labels.y.index.equals(bars.index[4:6])
    assert labels.y.tolist() == [N, U]
    assert labels.t1.tolist() == bars.index[6:8].tolist()


def test_triple_barrier_by_hand() -> None:
    # horizon 3, σ_i = stdev of the two 3-bar returns that ended at i−1 and i, barriers ±1σ.
    closes = [100.0, 100, 100, 102, 98, 101, 95, 96, 97, 96]
    e3, e4, e5, e6 = 0.02, 98 / 100 - 1, 101 / 100 - 1, 95 / 102 - 1
    bars = bars_from(closes)
    labels = make_labels(bars, LabelSpec("triple", horizon=3, vol_window=2))
    # row 4 (98, σ 2.83%): bar 5 = +3.06% touches up first (bar 6 would touch down) → BULLISH @5
    # row 5 (101, σ 2.12%): bar 6 = −5.94% touches down → BEARISH @6
    # row 6 (95, σ 5.56%): path +1.05%, +2.11%, +1.05% never touches → NEUTRAL @9 (vertical)
    assert stdev([e3, e4]) == pytest.approx(0.028284, abs=1e-6)
    assert stdev([e4, e5]) < 101 / 98 - 1 and stdev([e5, e6]) > 97 / 95 - 1
    assert labels.y.index.equals(bars.index[4:7])
    assert labels.y.tolist() == [U, B, N]
    assert labels.t1.tolist() == [bars.index[5], bars.index[6], bars.index[9]]
    assert labels.ret.tolist() == pytest.approx([101 / 98 - 1, 95 / 101 - 1, 96 / 95 - 1])


def test_triple_barrier_asymmetric_barriers() -> None:
    closes = [100.0, 100, 100, 102, 98, 101, 95, 96, 97, 96]
    wide_top = LabelSpec("triple", horizon=3, vol_window=2, pt_sigma=5.0, sl_sigma=1.0)
    labels = make_labels(bars_from(closes), wide_top)
    # row 4 no longer takes profit at +3.06% (< 5σ); it stops out at bar 6 (95/98 = −3.06%)
    assert labels.y.iloc[0] == B and labels.t1.iloc[0] == bars_from(closes).index[6]


@pytest.mark.parametrize("kind", ["threshold", "volscaled", "binary", "triple"])
def test_t1_is_after_ts_within_horizon_and_tail_dropped(kind: str) -> None:
    bars = random_walk(400, seed=2)
    spec = LabelSpec(kind, horizon=7, vol_window=50)
    labels = make_labels(bars, spec)
    pos_ts = bars.index.get_indexer(labels.y.index)
    pos_t1 = bars.index.get_indexer(labels.t1)
    steps = pos_t1 - pos_ts
    assert (steps >= 1).all() and (steps <= 7).all()
    assert (steps == 7).all() or kind == "triple"
    assert pos_ts[-1] == len(bars) - 1 - 7
    assert pos_ts[0] == spec.warmup
    assert set(np.unique(labels.y)) <= set(spec.classes)


def test_volscaled_threshold_and_labels_are_causal() -> None:
    bars = random_walk(600, seed=5)
    spec = LabelSpec("volscaled", horizon=5, vol_window=50)
    base_sigma = causal_sigma(bars["close"].to_numpy(), 5, 50)
    base = make_labels(bars, spec)
    rng = np.random.default_rng(0)
    for cut in rng.integers(100, 590, size=10):
        changed = bars.copy()
        changed.iloc[cut + 1 :, :4] *= rng.uniform(0.5, 1.5, size=(len(bars) - cut - 1, 1))
        sigma = causal_sigma(changed["close"].to_numpy(), 5, 50)
        np.testing.assert_array_equal(sigma[: cut + 1], base_sigma[: cut + 1])
        assert not np.allclose(sigma[cut + 1 :], base_sigma[cut + 1 :])
        # labels whose window closed by bar `cut` are unchanged
        labels = make_labels(changed, spec)
        resolved = base.t1 <= bars.index[cut]
        pd.testing.assert_series_equal(labels.y[resolved], base.y[resolved])


def test_vectorised_speed_on_a_million_rows() -> None:
    n = 1_000_000
    close = pd.Series(
        100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.001, n))),
        index=pd.date_range("2020-01-01", periods=n, freq="min", tz="UTC"),
    )
    started = time.perf_counter()
    labels = make_labels(close, LabelSpec(horizon=5))
    elapsed = time.perf_counter() - started
    assert len(labels) == n - 5
    assert elapsed < 1.0, f"threshold labels on 1M rows took {elapsed:.2f}s"


def test_spec_describe() -> None:
    assert LabelSpec().describe() == "threshold ±0.20% over 5 bars"
    assert LabelSpec("binary", horizon=1).describe() == "binary up/down over 1 bar"
    assert LabelSpec("volscaled").describe().startswith("volscaled ±0.5σ")
    assert LabelSpec("triple", pt_sigma=2).describe().startswith("triple barrier +2σ/−1σ")


def test_spec_is_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        LabelSpec().horizon = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0}, r"`horizon` must be >= 1\. Got 0\."),
        ({"horizon": -3}, r"`horizon` must be >= 1\. Got -3\."),
        ({"horizon": 2.5}, r"`horizon` must be an integer\. Got 2\.5\."),
        ({"threshold": -0.01}, r"`threshold` must be >= 0\. Got -0\.01\."),
        ({"threshold": float("nan")}, r"`threshold` must be a finite number\. Got nan\."),
        ({"kind": "quad"}, r"`kind` must be one of threshold, volscaled, binary, triple\. Got 'quad'\."),
        ({"vol_k": 0}, r"`vol_k` must be > 0\. Got 0\."),
        ({"vol_window": 1}, r"`vol_window` must be >= 2\. Got 1\."),
        ({"pt_sigma": -1.0}, r"`pt_sigma` must be > 0\. Got -1\.0\."),
        ({"sl_sigma": 0.0}, r"`sl_sigma` must be > 0\. Got 0\.0\."),
    ],
)
def test_spec_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LabelSpec(**kwargs)


def test_too_few_bars_and_missing_close() -> None:
    with pytest.raises(DataError, match=r"3 bars are too few to label with threshold .* need more than 5"):
        make_labels(bars_from([1.0, 2.0, 3.0]), LabelSpec(horizon=5))
    with pytest.raises(DataError, match=r"need more than 109 \(horizon 5 \+ σ warm-up 104\)"):
        make_labels(random_walk(109), LabelSpec("volscaled"))
    assert len(make_labels(random_walk(110), LabelSpec("volscaled"))) == 1
    with pytest.raises(DataError, match="no `close` column"):
        make_labels(random_walk(50).drop(columns="close"), LabelSpec())
