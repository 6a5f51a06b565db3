"""What every operations job works over: the opened services, where bars come from, which series.

Why an explicit object instead of globals: the CLI builds it once from the config (through
:func:`candor.services.open_services`), tests build it on scratch stores, and two contexts can
live in one process without seeing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from candor.config import Config
from candor.data.bars import check_symbol, check_timeframe
from candor.data.validate import validate_bars
from candor.errors import ConfigError
from candor.services import Services, open_store
from candor.store import list_series, load_bars

BarsLoader = Callable[[str, str], pd.DataFrame]


@dataclass(frozen=True)
class OpsContext:
    """The services every job uses, and an optional bars source (default: the store's bars)."""

    services: Services
    bars_loader: BarsLoader | None = None

    @property
    def config(self) -> Config:
        return self.services.config

    def bars(self, symbol: str, timeframe: str) -> pd.DataFrame:
        if self.bars_loader is not None:
            return self.bars_loader(symbol, timeframe)
        return load_bars(self.services.store.engine, symbol, timeframe)


def stored_bars(config: Config, symbol: str, timeframe: str) -> pd.DataFrame:
    """One series from the operational store (``ohlc_bars``), validated by the rules every file
    meets: what ``candor train --source db`` trains on, the bars the forecast job reads (filled by
    ``candor data fetch`` or ``candor data import``)."""
    check_symbol(symbol)
    check_timeframe(timeframe)
    with open_store(config) as store:
        bars = load_bars(store.engine, symbol, timeframe)
    validate_bars(bars)
    return bars


def served_series(services: Services, symbols: Iterable[str] | None = None,
                  timeframes: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """(symbol, timeframe) pairs: explicit symbols × timeframes, else ``forecast.universe``, else
    every series stored in ``ohlc_bars`` — filtered by ``timeframes`` when given."""
    config = services.config
    wanted_tf = tuple(timeframes or config.forecast.timeframes)
    check_series_request(symbols, wanted_tf)
    if symbols:
        return [(s, tf) for s in symbols for tf in wanted_tf]
    if config.forecast.universe:
        pairs = [_parse_series(entry) for entry in config.forecast.universe]
    else:
        pairs = [(info.symbol, info.timeframe) for info in list_series(services.store.engine)]
    return [(s, tf) for s, tf in pairs if not wanted_tf or tf in wanted_tf]


def check_series_request(symbols: Iterable[str] | None, timeframes: Iterable[str] | None) -> None:
    """Symbols must follow the symbol rule, timeframes must be known, and symbols need at least one
    timeframe (before any store is opened)."""
    for symbol in symbols or ():
        check_symbol(symbol)
    for timeframe in timeframes or ():
        check_timeframe(timeframe)
    if symbols and not timeframes:
        raise ConfigError("`timeframes` must name at least one timeframe when symbols are given "
                          "(e.g. --timeframes d1). Got none.")


def _parse_series(entry: str) -> tuple[str, str]:
    symbol, sep, timeframe = entry.rpartition("/")
    if not sep or not symbol:
        raise ConfigError(f"`forecast.universe` entries must be SYMBOL/timeframe (e.g. SPX/d1). Got {entry!r}.")
    return symbol, check_timeframe(timeframe)
