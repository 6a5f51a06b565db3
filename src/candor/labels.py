"""Direction labels over a forward horizon, each with the time its window resolves (``t1``).

Four kinds (:class:`LabelSpec`):

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

from candor.errors import ConfigError, DataError

BEARISH = -1
NEUTRAL = 0
BULLISH = 1
CLASS_NAMES: dict[int, str] = {BEARISH: "BEARISH", NEUTRAL: "NEUTRAL", BULLISH: "BULLISH"}
LABEL_KINDS = ("threshold", "volscaled", "binary", "triple")


def _check_number(name: str, value: object, *, low: float, strict: bool, integer: bool) -> None:
    """Raise ConfigError unless ``value`` is a (finite) number above ``low``."""
    kind_ok = isinstance(value, (int, np.integer)) if integer else isinstance(
        value, (int, float, np.integer, np.floating)
    )
    if isinstance(value, bool) or not kind_ok or not np.isfinite(value):
        what = "an integer" if integer else "a finite number"
        raise ConfigError(f"`{name}` must be {what}. Got {value!r}.")
    if value < low or (strict and value == low):
        op = ">" if strict else ">="
        raise ConfigError(f"`{name}` must be {op} {low:g}. Got {value}.")


@dataclass(frozen=True)
class LabelSpec:
    """How labels are made: kind, horizon in bars and the kind's parameters (validated here)."""

    kind: str = "threshold"
    horizon: int = 5
    threshold: float = 0.002
    vol_k: float = 0.5
    vol_window: int = 100
    pt_sigma: float = 1.0
    sl_sigma: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in LABEL_KINDS:
            raise ConfigError(f"`kind` must be one of {', '.join(LABEL_KINDS)}. Got {self.kind!r}.")
        _check_number("horizon", self.horizon, low=1, strict=False, integer=True)
        _check_number("threshold", self.threshold, low=0, strict=False, integer=False)
        _check_number("vol_k", self.vol_k, low=0, strict=True, integer=False)
        _check_number("vol_window", self.vol_window, low=2, strict=False, integer=True)
        _check_number("pt_sigma", self.pt_sigma, low=0, strict=True, integer=False)
        _check_number("sl_sigma", self.sl_sigma, low=0, strict=True, integer=False)

    @property
    def classes(self) -> tuple[int, ...]:
        """The classes this kind can produce, in ascending order."""
        return (BEARISH, BULLISH) if self.kind == "binary" else (BEARISH, NEUTRAL, BULLISH)

    @property
    def warmup(self) -> int:
        """Leading rows dropped because the causal σ is not yet defined (0 for fixed kinds)."""
        return self.horizon + self.vol_window - 1 if self.kind in ("volscaled", "triple") else 0

    def describe(self) -> str:
        """A short human line, e.g. ``threshold ±0.20% over 5 bars``."""
        h = f"{self.horizon} bar{'s' if self.horizon != 1 else ''}"
        sigma = f"{self.vol_window}-bar σ of {self.horizon}-bar returns"
        if self.kind == "threshold":
            return f"threshold ±{self.threshold:.2%} over {h}"
        if self.kind == "volscaled":
            return f"volscaled ±{self.vol_k:g}σ ({sigma}) over {h}"
        if self.kind == "binary":
            return f"binary up/down over {h}"
        return f"triple barrier +{self.pt_sigma:g}σ/−{self.sl_sigma:g}σ ({sigma}), vertical at {h}"


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
