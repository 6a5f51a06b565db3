"""Direction labels over a forward horizon, each with the time its window resolves (``t1``).

Four kinds (:class:`~candor.records.specs.LabelSpec`, defined with its rules in the records leaf):

``threshold``  3-class on the horizon return ``R_i = close[i+h] / close[i] − 1``:
               ``R > thr`` BULLISH, ``R < −thr`` BEARISH, else NEUTRAL (seed default ±0.2%).
``volscaled``  the same with a per-row threshold ``vol_k · σ_i``; ``σ_i`` is the rolling
               standard deviation (``vol_window`` values, ddof 1) of the horizon returns that
               *ended at or before bar i* (``close[j]/close[j−h] − 1`` for ``j ≤ i``), so it is
               known at the close of bar i. Rows without a full window are dropped.
``binary``     BULLISH if ``R > 0`` else BEARISH.
``triple``     triple barrier on the close path ``close[i+1..i+h] / close[i] − 1``: upper
               barrier ``+pt_sigma · σ_i``, lower ``−sl_sigma · σ_i`` with the *horizon-return*
               ``σ_i`` of ``volscaled`` (so "1σ" means a typical whole-horizon move, and a
               ``triple`` label with wide barriers degrades to NEUTRAL, one with tight barriers to
               the sign of the first decisive move). First touch wins (≥ / ≤ the barrier); no
               touch → NEUTRAL at the vertical barrier, bar i+h.

Every label carries ``t1``: the open timestamp of the bar whose close resolves it (bar ``i+h``,
or the first barrier-touching bar). The splitter purges with ``[ts, t1]``. Rows without a
complete future (the last ``horizon``) are dropped, never padded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from candor.errors import DataError
from candor.records.specs import BEARISH, BULLISH, LABEL_KINDS, NEUTRAL, LabelSpec

__all__ = ["BEARISH", "BULLISH", "CLASS_NAMES", "LABEL_KINDS", "NEUTRAL", "LabelSpec", "Labels", "causal_sigma",
           "make_labels"]

CLASS_NAMES: dict[int, str] = {BEARISH: "BEARISH", NEUTRAL: "NEUTRAL", BULLISH: "BULLISH"}


@dataclass(frozen=True, eq=False)
class Labels:
    """Labels with their resolution times, indexed by the bars' ``ts`` (a subset of it).

    ``ret`` is the realised return from the close of bar i to the close of the bar at ``t1``.
    """

    y: pd.Series
    t1: pd.Series
    spec: LabelSpec
    ret: pd.Series | None = None

    def __len__(self) -> int:
        return len(self.y)

    def counts(self) -> dict[str, int]:
        """Class name → number of rows, for every class the spec can produce."""
        values = self.y.to_numpy()
        return {CLASS_NAMES[c]: int(np.count_nonzero(values == c)) for c in self.spec.classes}

    def distribution(self) -> dict[str, float]:
        """Class name → share of rows (sums to 1; all zeros for empty labels)."""
        total = max(len(self.y), 1)
        return {name: count / total for name, count in self.counts().items()}


def _closes(bars: pd.DataFrame | pd.Series) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """The close prices and bar open times of ``bars`` (a bar frame or a close Series)."""
    close = bars if isinstance(bars, pd.Series) else bars.get("close")
    if close is None:
        raise DataError("bars have no `close` column; build them with candor.data.make_bars().")
    if not isinstance(close.index, pd.DatetimeIndex):
        raise DataError("bars need a DatetimeIndex of bar open times to label.")
    return close.to_numpy(dtype="float64"), close.index


def causal_sigma(close: np.ndarray, horizon: int, window: int) -> np.ndarray:
    """Per-bar σ of horizon returns known at each bar's close (NaN until ``window`` exist).

    ``sigma[i] = std(close[j]/close[j−h] − 1 for j in i−window+1 .. i)``: only returns that
    ended at or before bar i, so the threshold at i never peeks at later prices.
    """
    past = np.full(len(close), np.nan)
    past[horizon:] = close[horizon:] / close[:-horizon] - 1.0
    return pd.Series(past).rolling(window, min_periods=window).std().to_numpy()


def _triple_barrier(
    close: np.ndarray, sigma: np.ndarray, spec: LabelSpec
) -> tuple[np.ndarray, np.ndarray]:
    """First-touch labels and the offset (1..h) of the resolving bar for rows 0..n−h−1."""
    h = spec.horizon
    windows = sliding_window_view(close, h + 1)[: len(close) - h]
    path = windows[:, 1:] / windows[:, :1] - 1.0
    s = sigma[: len(path), None]
    up, down = path >= spec.pt_sigma * s, path <= -spec.sl_sigma * s
    first_up = np.where(up.any(axis=1), up.argmax(axis=1), h)
    first_down = np.where(down.any(axis=1), down.argmax(axis=1), h)
    y = np.where(first_up < first_down, BULLISH, np.where(first_down < first_up, BEARISH, NEUTRAL))
    offset = np.minimum(np.minimum(first_up, first_down), h - 1) + 1
    return y.astype(np.int64), offset


def _classify(ret: np.ndarray, thr: np.ndarray | float, kind: str) -> np.ndarray:
    """Map horizon returns to classes for the threshold-like kinds."""
    if kind == "binary":
        return np.where(ret > 0, BULLISH, BEARISH).astype(np.int64)
    return np.where(ret > thr, BULLISH, np.where(ret < -thr, BEARISH, NEUTRAL)).astype(np.int64)


def make_labels(bars: pd.DataFrame | pd.Series, spec: LabelSpec | None = None) -> Labels:
    """Label every bar that has a complete future (and, for σ kinds, a defined σ).

    ``bars`` is a bar frame (or its close Series). Vectorised: O(n) for fixed thresholds,
    O(n · horizon) for triple barrier.
    """
    spec = spec or LabelSpec()
    close, ts = _closes(bars)
    h, n = spec.horizon, len(close)
    if n <= h + spec.warmup:
        raise DataError(
            f"{n} bars are too few to label with {spec.describe()}: need more than "
            f"{h + spec.warmup} (horizon {h} + σ warm-up {spec.warmup})."
        )
    m = n - h
    sigma = causal_sigma(close, h, spec.vol_window)[:m] if spec.warmup else None
    if spec.kind == "triple":
        y, offset = _triple_barrier(close, sigma, spec)
    else:
        offset = np.full(m, h)
        thr = spec.vol_k * sigma if spec.kind == "volscaled" else spec.threshold
        y = _classify(close[h:] / close[:m] - 1.0, thr, spec.kind)
    end = np.arange(m) + offset
    keep = slice(spec.warmup, m)
    index = ts[:m][keep]
    return Labels(
        y=pd.Series(y[keep], index=index, name="label"),
        t1=pd.Series(ts[end][keep], index=index, name="t1"),
        spec=spec,
        ret=pd.Series((close[end] / close[:m] - 1.0)[keep], index=index, name="ret"),
    )
