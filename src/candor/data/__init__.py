"""Bars: loading, validation, resampling, embedded datasets and synthetic series."""

from candor.data.bars import OHLCV, TIMEFRAMES, make_bars, symbol_of, timeframe_of

__all__ = ["OHLCV", "TIMEFRAMES", "make_bars", "symbol_of", "timeframe_of"]
