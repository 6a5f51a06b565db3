"""Fetched bars into ``ohlc_bars``: idempotent, and consistent with what is already stored.

:func:`candor.store.import_bars` never rewrites a stored bar (``ON CONFLICT DO NOTHING``), so
re-fetching a range adds nothing and an overlapping range adds only its new bars. What that alone
would not catch, and this module refuses before anything is written:

* a provider that *revised* bars already stored (a split, a re-adjustment): the new bars would be
  on another price scale than the old ones, a fake jump in the training data;
* bars at another time alignment than the stored ones (the feed changed time zone): they would
  interleave with the stored bars (the ``spacing`` rule) or sit off the stored grid;
* a hole between the stored series and the fetched bars, under the same gap policy as the fetch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine

from candor.data.bars import TIMEFRAMES, timeframe_of, with_attrs_of
from candor.data.gaps import apply_gap_policy, check_gap_policy
from candor.data.providers.checks import check_alignment
from candor.data.validate import validate_bars
from candor.errors import DataError
from candor.store import import_bars, list_series, load_bars

PRICES = ("open", "high", "low", "close")
#: Relative tolerance for "the same price": providers re-serialise floats (float32 artefacts).
PRICE_RTOL = 1e-5


@dataclass(frozen=True)
class StoreResult:
    """What one store did: bars received, rows new to the table (forward-filled ones included under
    ``gaps="ffill"``), received bars that were stored already, and the span received."""

    symbol: str
    timeframe: str
    received: int
    added: int
    already_stored: int
    first: pd.Timestamp
    last: pd.Timestamp


def _stored_around(bind: Engine | Connection, bars: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.Timestamp,
                                                                           pd.Timestamp]:
    """Stored bars overlapping or next to ``bars`` (one bar either side, and across any hole
    between the stored series and ``bars``), and the span whose gaps are new: [lo, hi]."""
    symbol, timeframe = str(bars.attrs["symbol"]), timeframe_of(bars)
    lo, hi = bars.index[0], bars.index[-1]
    series = next((s for s in list_series(bind) if s.symbol == symbol and s.timeframe == timeframe), None)
    if series is None:
        return None, lo, hi
    lo = min(lo, series.last) if series.last < lo else lo
    hi = max(hi, series.first) if series.first > hi else hi
    bar = TIMEFRAMES[timeframe]
    return load_bars(bind, symbol, timeframe, lo - bar, hi + bar), lo, hi


def _refuse_revisions(stored: pd.DataFrame, bars: pd.DataFrame, where: str) -> None:
    common = stored.index.intersection(bars.index)
    if common.empty:
        return
    old = stored.loc[common, list(PRICES)].to_numpy()
    new = bars.loc[common, list(PRICES)].to_numpy()
    differ = ~np.isclose(old, new, rtol=PRICE_RTOL, atol=0.0).all(axis=1)
    if differ.any():
        first = int(np.argmax(differ))
        raise DataError(
            f"{where}: {int(differ.sum())} fetched bar(s) differ from the stored ones, first at {common[first]} "
            f"(stored close {old[first, 3]:g}, fetched {new[first, 3]:g}): the provider revised its history "
            "(a split or a re-adjustment?). Stored bars are never rewritten; store the series under another "
            "symbol or remove the stored one first."
        )


def _union(stored: pd.DataFrame, bars: pd.DataFrame, where: str) -> pd.DataFrame:
    """Stored bars plus the fetched ones they lack, checked together by the same rules."""
    stored_calendar, calendar = stored.attrs.get("calendar"), bars.attrs.get("calendar")
    if stored_calendar is not None and calendar is not None and stored_calendar != calendar:
        raise DataError(f"{where}: the series is stored with calendar {stored_calendar!r} but these bars say "
                        f"{calendar!r}; pass --calendar {stored_calendar} or store them under another symbol.")
    union = pd.concat([stored, bars.loc[~bars.index.isin(stored.index)]]).sort_index()
    union = with_attrs_of(union, bars)
    try:
        validate_bars(union)
    except DataError as exc:
        raise DataError(f"{where}, with the stored bars: {exc}") from None
    check_alignment(union, f"{where}, with the stored bars")
    return union


def store_bars(bind: Engine | Connection, bars: pd.DataFrame, *, gaps: str = "refuse") -> StoreResult:
    """Store validated ``bars`` (symbol/timeframe/calendar from attrs) in ``ohlc_bars``.

    Bars already stored are kept as they are (and must agree with the fetched ones); ``gaps`` is the
    policy for missing bars in the fetched span and between it and the stored series.
    """
    check_gap_policy(gaps)
    symbol, timeframe = str(bars.attrs.get("symbol")), timeframe_of(bars)
    where = f"{symbol}/{timeframe}"
    if bars.empty:
        raise DataError(f"{where}: no bars to store.")
    validate_bars(bars)
    check_alignment(bars, where)
    stored, lo, hi = _stored_around(bind, bars)
    union = bars
    if stored is not None:
        _refuse_revisions(stored, bars, where)
        union = _union(stored, bars, where)
    span = with_attrs_of(union.loc[lo:hi], bars)
    try:
        filled, _ = apply_gap_policy(span, gaps)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    new = filled if stored is None else with_attrs_of(filled.loc[~filled.index.isin(stored.index)], bars)
    added = import_bars(bind, new) if len(new) else 0
    already = 0 if stored is None else int(bars.index.isin(stored.index).sum())
    return StoreResult(symbol, timeframe, len(bars), added, already, bars.index[0], bars.index[-1])
