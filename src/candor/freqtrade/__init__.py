"""Freqtrade integration: a strategy that trades a series' champion, and the export of its files.

* :mod:`candor.freqtrade.signals` — the champion's signals on a Freqtrade dataframe (no Freqtrade
  import; the same feature and position functions as ``candor backtest``).
* :mod:`candor.freqtrade.export` — ``strategies/CandorStrategy.py`` and a config snippet for a
  ``user_data/`` folder (``candor freqtrade export``).
* :mod:`candor.freqtrade.strategy` — the ``IStrategy`` itself; importing it needs the
  ``candor[freqtrade]`` extra, so it is not imported here.
"""

from candor.freqtrade.export import ExportResult, config_snippet, default_pair, export_strategy
from candor.freqtrade.signals import (
    CANDOR_TIMEFRAMES, FREQTRADE_TIMEFRAMES, SeriesSignals, SignalRefused, StrategySettings, bars_from_dataframe,
    candor_timeframe, series_signals, trade_tag,
)

__all__ = [
    "CANDOR_TIMEFRAMES",
    "FREQTRADE_TIMEFRAMES",
    "ExportResult",
    "SeriesSignals",
    "SignalRefused",
    "StrategySettings",
    "bars_from_dataframe",
    "candor_timeframe",
    "config_snippet",
    "default_pair",
    "export_strategy",
    "series_signals",
    "trade_tag",
]
