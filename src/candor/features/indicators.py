"""Scale-free indicator columns built on TA-Lib, grouped by role, each with its converged warm-up.

Every column here is a :class:`Spec`: a name, a group, its warm-up (the leading bars that are NaN),
a function of the bar arrays and ``first``, TA-Lib's own ``lookback`` (the first bar with any
output, so it cannot drift from the C code). For a finite-window column (SMA, MAX, STDDEV…) the
two are equal: its value does not depend on where the series starts. A recursion (Wilder's RSI /
ATR / DMI, an EMA, KAMA, SAR) carries its seed forward, so its warm-up adds the bars the seed's
error needs to decay (:func:`settle`); :func:`~candor.features.catalog.compute_features` masks
the bars in between, so every value a model sees is within :data:`TOLERANCE` of the value the full
history gives, wherever the series starts (measured: ``benchmarks/feature_warmup.py``). Specs share intermediate series (SMA of volume, ATR, log close, ...) through
:meth:`Inputs.memo`, so each indicator runs once per call however many columns use it.

Why these rules:

* **Causal.** TA-Lib computes every output from inputs at or before its position; the numpy
  helpers only look backwards (``x[k:] - x[:-k]``). Nothing normalises over the whole series.
* **Scale-free.** Prices and volumes only enter as ratios, z-scores, percentages or bounded
  oscillators, so a model trained on one price level or share count transfers to another.
* **Guarded.** A zero denominator (flat bar, zero volume) gives a neutral value, never inf/NaN,
  so after warm-up a column is finite everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import numpy as np
import pandas as pd
import talib
from talib import abstract

T = TypeVar("T")

NAN = float("nan")
OHLCV = ("open", "high", "low", "close", "volume")
LN2 = math.log(2.0)


#: How close a column's first used value is to the full-history value: within this share of the
#: column's full-history standard deviation (1%), wherever the series starts.
TOLERANCE = 0.01
#: The share of a recursion's seed error that must be left at the first used bar: TOLERANCE / 10,
#: since a seed can be several standard deviations off (measured: at most ~6, on the real series).
DECAY = TOLERANCE / 10


@dataclass(frozen=True)
class Spec:
    """One feature column: its name, group, warm-up (leading NaN bars), how to compute it and the
    first bar TA-Lib gives any output (``None``: the warm-up; earlier than the warm-up for a
    recursion, whose bars before its warm-up are masked)."""

    name: str
    group: str
    warmup: int
    fn: Callable[[Inputs], np.ndarray]
    first: int | None = None


class Inputs:
    """The bar arrays of one frame plus a memo of shared intermediate series."""

    def __init__(self, bars: pd.DataFrame) -> None:
        self._setup(bars, {name: _col(bars, name) for name in OHLCV})

    @classmethod
    def of_arrays(cls, columns: Mapping[str, np.ndarray]) -> Inputs:
        """Inputs over plain OHLCV arrays, without a frame (``bars`` is None): the coarse bars of
        a context join need only their arrays, and building a validated frame per series cost
        as much as the indicators on it."""
        x = cls.__new__(cls)
        x._setup(None, {name: np.ascontiguousarray(columns[name], dtype="float64") for name in OHLCV})
        return x

    def _setup(self, bars: pd.DataFrame | None, arrays: Mapping[str, np.ndarray]) -> None:
        self.bars = bars
        self.open, self.high, self.low = arrays["open"], arrays["high"], arrays["low"]
        self.close, self.volume = arrays["close"], arrays["volume"]
        self.n = len(self.close)
        self._memo: dict[Hashable, object] = {}
        #: The result column being filled; a column's *last* step may write into it (never a
        #: memoised intermediate, which other columns share).
        self.dest: np.ndarray | None = None
        #: When a list, every memo key touched is appended to it (to plan when to free them).
        self.touched: list[Hashable] | None = None

    def memo(self, key: Hashable, thunk: Callable[[], T]) -> T:
        """Compute ``thunk()`` once per key; later callers share the result."""
        if self.touched is not None:
            self.touched.append(key)
        if key not in self._memo:
            self._memo[key] = thunk()
        return self._memo[key]  # type: ignore[return-value]

    def forget(self, keys: Iterable[Hashable]) -> None:
        """Drop shared series no later column needs, so their memory is reused at once."""
        for key in keys:
            self._memo.pop(key, None)


def _col(bars: pd.DataFrame, name: str) -> np.ndarray:
    return np.ascontiguousarray(bars[name].to_numpy(dtype="float64"))


@lru_cache(maxsize=None)
def lookback(func: str, **params: int) -> int:
    """TA-Lib's own count of leading bars with no output for ``func`` with ``params``."""
    f = abstract.Function(func)
    f.set_parameters(params)
    return int(f.lookback)


@lru_cache(maxsize=None)
def settle(*alphas: float) -> int:
    """Bars after a recursion's first output until its seed error has decayed below :data:`DECAY`.

    ``alphas`` are the smoothing factors of first-order recursions applied one after the other
    (Wilder: ``1/p``; EMA: ``2/(p+1)``; ADX smooths the DMI's smoothed sums again: two stages).
    Two series of the same bars that start at different bars differ only in each stage's state,
    and stage ``i``'s difference follows ``e_i[k] = (1 - a_i) e_i[k-1] + a_i e_{i-1}[k]``, which
    starts at 1 (a seed one unit off) and decays monotonically: the answer is the first ``k``
    with ``e_last[k] <= DECAY`` — ``ceil(ln(DECAY) / ln(1 - a))`` for one stage.
    """
    errors = [1.0] * len(alphas)
    k = 0
    while errors[-1] > DECAY:
        k += 1
        upstream = 0.0
        for i, a in enumerate(alphas):
            errors[i] = (1.0 - a) * errors[i] + (a * upstream if i else 0.0)
            upstream = errors[i]
    return k


def wilder(p: int) -> float:
    """Wilder's smoothing factor (RSI, ATR, DMI/ADX)."""
    return 1.0 / p


def ema_alpha(p: int) -> float:
    """An EMA's smoothing factor."""
    return 2.0 / (p + 1)


# --------------------------------------------------------------------------- numeric helpers
def div(a: np.ndarray, b: np.ndarray, fill: float = 0.0, out: np.ndarray | None = None) -> np.ndarray:
    """``a / b`` with ``fill`` where ``b == 0`` (NaN stays NaN, so warm-up is kept).

    ``out`` lets the final step of a column write straight into the result matrix.
    """
    zero = b == 0
    has_zero = bool(zero.any())
    a_nan = np.isnan(a[zero]) if has_zero else None  # before ``out`` (which may be ``a``) changes
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.divide(a, b, out=out)
    if has_zero:
        q[zero] = np.where(a_nan, NAN, fill)
    return q


def rel(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a / b - 1``: how far ``a`` sits above ``b`` in relative terms (0 where ``b == 0``)."""
    q = div(a, b, fill=1.0, out=out)
    q -= 1.0
    return q


def ratio_pos(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a / b - 1`` for a ``b`` that is a positive price (SMA, EMA, extremes): no zero guard."""
    q = np.divide(a, b, out=out)
    q -= 1.0
    return q


def pct(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``100 * a / b`` for a strictly positive ``b`` (a price): no zero guard needed."""
    q = np.divide(a, b, out=out)
    q *= 100.0
    return q


def lag_diff(a: np.ndarray, k: int, out: np.ndarray | None = None) -> np.ndarray:
    """``a[t] - a[t-k]`` with NaN for the first ``k`` rows (backward-looking only)."""
    out = np.empty_like(a) if out is None else out
    out[:k] = NAN
    np.subtract(a[k:], a[:-k], out=out[k:])
    return out


def zscore(x: Inputs, key: str, a: np.ndarray, p: int) -> np.ndarray:
    """``(a - SMA(a, p)) / STDDEV(a, p)``; 0 when the window is flat."""
    return div(np.subtract(a, sma(x, key, a, p), out=x.dest), stddev(x, key, a, p), out=x.dest)


# --------------------------------------------------------------------------- shared series
def sma(x: Inputs, key: str, a: np.ndarray, p: int) -> np.ndarray:
    return x.memo(("sma", key, p), lambda: talib.SMA(a, p))


def stddev(x: Inputs, key: str, a: np.ndarray, p: int) -> np.ndarray:
    return x.memo(("std", key, p), lambda: talib.STDDEV(a, p, 1.0))


def ema(x: Inputs, p: int) -> np.ndarray:
    return x.memo(("ema", p), lambda: talib.EMA(x.close, p))


def log_close(x: Inputs) -> np.ndarray:
    return log_of(x, "close")


def ret(x: Inputs, k: int) -> np.ndarray:
    """Log return over ``k`` bars."""
    return x.memo(("ret", k), lambda: lag_diff(log_close(x), k))


def atr(x: Inputs, p: int) -> np.ndarray:
    return x.memo(("atr", p), lambda: talib.ATR(x.high, x.low, x.close, p))


def rvol(x: Inputs, p: int) -> np.ndarray:
    """Per-bar realised volatility: population std of 1-bar log returns over ``p`` bars."""
    return stddev(x, "ret1", ret(x, 1), p)


def obv(x: Inputs) -> np.ndarray:
    return x.memo("obv", lambda: talib.OBV(x.close, x.volume))


def close_diff(x: Inputs) -> np.ndarray:
    """``close[t] - close[t-1]``."""
    return x.memo("dc1", lambda: lag_diff(x.close, 1))


def log_of(x: Inputs, column: str) -> np.ndarray:
    return x.memo(("log", column), lambda: np.log(getattr(x, column)))


def hl_log(x: Inputs) -> np.ndarray:
    return x.memo("hl_log", lambda: np.log(q := np.divide(x.high, x.low), out=q))


def macd(x: Inputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return x.memo("macd", lambda: talib.MACD(x.close, 12, 26, 9))


def bbands(x: Inputs, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return x.memo(("bb", p), lambda: talib.BBANDS(x.close, p, 2.0, 2.0, 0))


def stoch(x: Inputs, p: int) -> tuple[np.ndarray, np.ndarray]:
    return x.memo(("stoch", p), lambda: talib.STOCH(x.high, x.low, x.close, p, 3, 0, 3, 0))


def aroon(x: Inputs, p: int) -> tuple[np.ndarray, np.ndarray]:
    return x.memo(("aroon", p), lambda: talib.AROON(x.high, x.low, p))


def plus_di(x: Inputs, p: int) -> np.ndarray:
    return x.memo(("pdi", p), lambda: talib.PLUS_DI(x.high, x.low, x.close, p))


def minus_di(x: Inputs, p: int) -> np.ndarray:
    return x.memo(("mdi", p), lambda: talib.MINUS_DI(x.high, x.low, x.close, p))
