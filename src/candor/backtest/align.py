"""Checks that out-of-sample probabilities line up with the bars, before anything is computed.

Each failure is one :class:`~candor.errors.DataError` naming what is wrong, where (the first
offending timestamp) and the fix. Checks work on int64 nanosecond views: on a million rows the
pandas-level equivalents (``isin``, ``is_unique``) would cost more than the backtest itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from candor.errors import DataError

CLASSES = (-1, 0, 1)
SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Probabilities:
    """Where each signal row sits in the bars."""

    bar_pos: np.ndarray  # position of each signal row in bars.index
    contiguous: bool  # signal rows are consecutive bars (the common out-of-sample case)


def ns_index(index: object, what: str) -> np.ndarray:
    """UTC int64 nanoseconds of a tz-aware DatetimeIndex (any resolution)."""
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"{what} must have a DatetimeIndex of bar open times (UTC). Got {type(index).__name__}.")
    if index.tz is None:
        raise DataError(f"{what} index is timezone-naive; localize it to UTC like the bars (tz_localize('UTC')).")
    return (index if index.unit == "ns" else index.as_unit("ns")).asi8


def check_increasing(stamps: np.ndarray, index: pd.DatetimeIndex, what: str) -> None:
    """Strictly increasing, else name the first duplicate or out-of-order timestamp."""
    steps = np.diff(stamps)
    if stamps.size > 1 and not (steps > 0).all():
        first = int(np.flatnonzero(steps <= 0)[0]) + 1
        problem = "duplicate" if steps[first - 1] == 0 else "unsorted"
        raise DataError(
            f"{what} index is {problem} at {index[first]}: timestamps must be strictly increasing; "
            "sort and de-duplicate it (sort_index(), index.duplicated())."
        )


def locate(proba: pd.DataFrame, bars: pd.DataFrame) -> tuple[np.ndarray, bool]:
    """Position of every signal row in ``bars``; each timestamp must be one of the bars'."""
    p8 = ns_index(proba.index, "`proba`")
    b8 = ns_index(bars.index, "`bars`")
    check_increasing(p8, proba.index, "`proba`")
    first = int(np.searchsorted(b8, p8[0]))
    stop = first + p8.size
    if stop <= b8.size and b8[first] == p8[0] and np.array_equal(b8[first:stop], p8):
        # bars equal the (checked) signal stamps here; check the two bars that value the last one
        check_increasing(b8[stop - 1 : stop + 2], bars.index[stop - 1 : stop + 2], "`bars`")
        return np.arange(first, stop), True
    check_increasing(b8, bars.index, "`bars`")
    pos = np.searchsorted(b8, p8)
    inside = pos < b8.size
    found = np.zeros(p8.size, dtype=bool)
    found[inside] = b8[pos[inside]] == p8[inside]
    if not found.all():
        bad = int(np.flatnonzero(~found)[0])
        raise DataError(
            f"`proba` row {proba.index[bad]} is not a bar of `bars` ({int((~found).sum())} row(s) "
            "misaligned): signals must be indexed by the open time of the bar that produced them."
        )
    return pos, False


def class_matrix(proba: pd.DataFrame) -> np.ndarray:
    """The probabilities as an (n, 3) float64 array with columns -1, 0, 1 in that order.

    A view of the frame's block in the usual case (a float64 frame built from predict_proba
    with columns in class order); a reordered copy otherwise. Values are checked by the
    position kernel in the same pass that reads them (see :func:`bad_probabilities`).
    """
    labels = list(proba.columns)
    found = [labels.index(c) for c in CLASSES if c in labels]
    if len(found) != 3 or len(labels) != 3:
        raise DataError(
            f"`proba` columns must be the class labels -1, 0, 1 (BEARISH, NEUTRAL, BULLISH). Got {labels}."
        )
    values = proba.to_numpy(dtype=np.float64)
    return values if found == [0, 1, 2] else values[:, found]


def bad_probabilities(proba: pd.DataFrame, probs: np.ndarray) -> DataError:
    """The error for rows that are not probabilities, naming the first and counting them all."""
    total = probs.sum(axis=1)
    bad = ~(np.abs(total - 1.0) <= SUM_TOLERANCE) | ~(probs >= -SUM_TOLERANCE).all(axis=1)
    first = int(np.flatnonzero(bad)[0])
    return DataError(
        f"`proba` rows must be probabilities in [0, 1] summing to 1 (±{SUM_TOLERANCE:g}); row "
        f"{proba.index[first]} sums to {float(total[first])!r} ({int(bad.sum())} bad row(s)). "
        "Pass predict_proba output, not scores or labels."
    )


def read_probabilities(proba: pd.DataFrame, bars: pd.DataFrame) -> Probabilities:
    """Check ``proba`` is a non-empty frame aligned with ``bars``; return its bar positions."""
    if not isinstance(proba, pd.DataFrame) or len(proba) == 0:
        raise DataError("`proba` must be a non-empty DataFrame of out-of-sample class probabilities.")
    if not isinstance(bars, pd.DataFrame):
        raise DataError(f"`bars` must be a bar frame (DataFrame). Got {type(bars).__name__}.")
    pos, contiguous = locate(proba, bars)
    return Probabilities(pos, contiguous)


def execution_prices(bars: pd.DataFrame, column: str, start: int, stop: int) -> np.ndarray:
    """Prices ``bars[column][start:stop]``: finite and > 0, else name the first bad bar."""
    if column not in bars.columns:
        raise DataError(f"`bars` has no '{column}' column, needed for execution; build it with make_bars().")
    prices = bars[column].to_numpy(dtype=np.float64)[start:stop]
    ok = prices > 0.0
    ok &= prices < np.inf
    if not ok.all():
        first = int(np.flatnonzero(~ok)[0])
        raise DataError(
            f"bars '{column}' price is {float(prices[first])!r} at {bars.index[start + first]} "
            f"({int((~ok).sum())} bad bar(s) in the backtest span): prices must be finite and > 0; "
            "validate or fill the bars first."
        )
    return prices
