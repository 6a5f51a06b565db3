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

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection, Engine

from candor.config import Config, DataConfig, FetchSeries, under_home
from candor.data.bars import OHLCV, TIMEFRAMES, timeframe_of, with_attrs_of
from candor.data.gaps import apply_gap_policy, check_gap_policy
from candor.data.providers.checks import check_alignment
from candor.data.validate import validate_bars
from candor.errors import CandorError, ConfigError, DataError
from candor.store import import_bars, list_series, load_bars, replace_bars
from candor.store.engine import transaction

log = logging.getLogger(__name__)

#: The revision policies (``data.revisions`` in the config, ``--revisions`` on the commands).
POLICIES: tuple[str, ...] = get_args(DataConfig.model_fields["revisions"].annotation)

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
    #: Received bars whose stored prices differed: replaced or kept, as ``revisions`` said.
    revised: int = 0
    revisions: str = "refuse"


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


def revised_index(stored: pd.DataFrame, bars: pd.DataFrame) -> pd.DatetimeIndex:
    """Timestamps stored and in ``bars`` whose prices differ (beyond :data:`PRICE_RTOL`)."""
    common = stored.index.intersection(bars.index)
    if common.empty:
        return common
    old = stored.loc[common, list(PRICES)].to_numpy()
    new = bars.loc[common, list(PRICES)].to_numpy()
    return common[~np.isclose(old, new, rtol=PRICE_RTOL, atol=0.0).all(axis=1)]


#: Revised bars named in the refusal line before "…".
NAMED_REVISIONS = 3


def check_revisions(stored: pd.DataFrame, bars: pd.DataFrame, policy: str, where: str,
                    what: str = "fetched") -> pd.DatetimeIndex:
    """The revised bars (see :func:`revised_index`); under ``refuse`` a :class:`DataError` line
    naming them (the first few, with stored and new close) and the two other policies."""
    if policy not in POLICIES:
        raise ConfigError(f"`revisions` must be one of {', '.join(POLICIES)}. Got {policy!r}.")
    revised = revised_index(stored, bars)
    if policy != "refuse" or revised.empty:
        return revised
    named = ", ".join(f"{ts} (close {stored.at[ts, 'close']:g} stored, {bars.at[ts, 'close']:g} {what})"
                      for ts in revised[:NAMED_REVISIONS])
    more = f" and {len(revised) - NAMED_REVISIONS} more" if len(revised) > NAMED_REVISIONS else ""
    raise DataError(
        f"{where}: {len(revised)} {what} bar(s) differ from the stored ones: {named}{more} — the source revised "
        "its history (a correction, a split or a re-adjustment?); nothing was written. Pass --revisions replace "
        "to store the new values or --revisions keep to keep the stored ones (setting data.revisions)."
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


def store_bars(bind: Engine | Connection, bars: pd.DataFrame, *, gaps: str = "refuse",
               revisions: str = "refuse") -> StoreResult:
    """Store validated ``bars`` (symbol/timeframe/calendar from attrs) in ``ohlc_bars``.

    Bars already stored must agree with the fetched ones, or ``revisions`` decides (refuse: one
    line naming them and nothing written; replace: the stored values are overwritten; keep: the
    stored ones stay); ``gaps`` is the policy for missing bars in the fetched span and between it
    and the stored series. New bars and replaced ones are written in one transaction.
    """
    check_gap_policy(gaps)
    symbol, timeframe = str(bars.attrs.get("symbol")), timeframe_of(bars)
    where = f"{symbol}/{timeframe}"
    if bars.empty:
        raise DataError(f"{where}: no bars to store.")
    validate_bars(bars)
    check_alignment(bars, where)
    stored, lo, hi = _stored_around(bind, bars)
    union, revised = bars, pd.DatetimeIndex([], tz="UTC")
    if stored is not None:
        revised = check_revisions(stored, bars, revisions, where)
        if revisions == "replace" and len(revised):
            stored = stored.copy()
            stored.loc[revised, list(OHLCV)] = bars.loc[revised, list(OHLCV)].to_numpy()
        union = _union(stored, bars, where)
    span = with_attrs_of(union.loc[lo:hi], bars)
    try:
        filled, _ = apply_gap_policy(span, gaps)
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None
    new = filled if stored is None else with_attrs_of(filled.loc[~filled.index.isin(stored.index)], bars)
    replace = with_attrs_of(bars.loc[revised], bars) if revisions == "replace" else bars.iloc[:0]
    added = _write(bind, new, replace)
    already = 0 if stored is None else int(bars.index.isin(stored.index).sum())
    return StoreResult(symbol, timeframe, len(bars), added, already, bars.index[0], bars.index[-1],
                       revised=len(revised), revisions=revisions)


def _write(bind: Engine | Connection, new: pd.DataFrame, replace: pd.DataFrame) -> int:
    """Insert ``new`` and overwrite ``replace`` in one transaction; how many rows were new."""
    with transaction(bind) as connection:
        added = import_bars(connection, new) if len(new) else 0
        if len(replace):
            replace_bars(connection, replace)
    return added


def import_file_bars(bind: Engine | Connection, bars: pd.DataFrame, *, revisions: str = "refuse") -> StoreResult:
    """``candor data import``: store validated file ``bars``; bars already stored are counted, and
    stored bars whose prices differ are refused, replaced or kept as ``revisions`` says (the same
    rule as a fetch, without the feed's alignment and gap checks a file import never had)."""
    symbol, timeframe = str(bars.attrs.get("symbol")), timeframe_of(bars)
    where = f"{symbol}/{timeframe}"
    if bars.empty:
        raise DataError(f"{where}: no bars to store.")
    with transaction(bind) as connection:
        known = any(s.symbol == symbol and s.timeframe == timeframe for s in list_series(connection))
        stored = load_bars(connection, symbol, timeframe, bars.index[0], bars.index[-1]) if known else bars.iloc[:0]
        revised = check_revisions(stored, bars, revisions, where, what="imported")
        replace = with_attrs_of(bars.loc[revised], bars) if revisions == "replace" else bars.iloc[:0]
        added = _write(connection, bars, replace)
    already = len(bars) - added
    return StoreResult(symbol, timeframe, len(bars), added, already, bars.index[0], bars.index[-1],
                       revised=len(revised), revisions=revisions)


# ------------------------------------------------------------------------------- the fetch job
@dataclass(frozen=True)
class FetchOutcome:
    """One configured series after the fetch job: what was stored, or why nothing was."""

    series: FetchSeries
    result: StoreResult | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.series.provider} {self.series.symbol} {self.series.timeframe}"


def now_utc() -> pd.Timestamp:
    """The end of every fetch window (a function, so a test can fix the clock)."""
    return pd.Timestamp(datetime.now(UTC))


def fetch_configured(bind: Engine | Connection, config: Config, *, end: Any = None,
                     session: Any = None) -> list[FetchOutcome]:
    """The scheduled ``fetch`` job: each ``[[data.fetch]]`` series downloaded (its ``period`` back
    from ``end``, default now) and stored as ``candor data fetch`` stores it, under
    ``data.revisions``. A failing series is logged and recorded; the others continue."""
    from candor.data.providers import fetch_bars  # lazy: pandas-heavy provider code only when a fetch runs

    if not config.data.fetch:
        log.warning("fetch job: no series configured ([[data.fetch]] in candor.toml); nothing fetched")
        return []
    stop = end if end is not None else now_utc()
    outcomes = []
    for series in config.data.fetch:
        outcome = FetchOutcome(series)
        try:
            bars = fetch_bars(series.provider, series.symbol, series.timeframe, series.period,
                              exchange=series.exchange, end=stop, calendar=series.calendar, gaps=series.gaps,
                              session=session, cache_dir=str(under_home(config.home, "cache", series.provider)))
            result = store_bars(bind, bars, gaps=series.gaps, revisions=config.data.revisions)
            outcome = FetchOutcome(series, result)
            log.info("fetch %s: %d bar(s) %s → %s, %d new, %d already there, %d revised (%s)", outcome.name,
                     result.received, result.first, result.last, result.added, result.already_stored,
                     result.revised, result.revisions)
        except CandorError as exc:
            outcome = FetchOutcome(series, error=str(exc))
            log.error("fetch %s: %s", outcome.name, exc)
        outcomes.append(outcome)
    return outcomes
