"""The Freqtrade ``IStrategy`` that trades a candor champion (needs ``pip install 'candor[freqtrade]'``).

A thin shell: it reads the ``"candor"`` section of the Freqtrade config once
(:class:`~candor.freqtrade.signals.StrategySettings`), opens candor's services once
(:func:`candor.services.open_services`, the one composition root) and, on every dataframe,
asks the registry for the champion (:meth:`candor.registry.Registry.champion`: hash-checked,
age-checked, cached per version, the alias re-read each time so a promotion takes effect at the
next candle) and turns its signals into Freqtrade's columns with
:func:`~candor.freqtrade.signals.series_signals`.

Bad input is a log line and no trade: a dataframe no longer than the champion's warm-up, a
timeframe other than the champion's, no servable champion (missing, too old, modified). On such
a candle neither ``enter_long`` nor ``exit_long`` is set, so an open trade is left to the
stop-loss / ROI rather than closed by a model that could not speak. Bad settings (no
``"candor"`` section, an unknown key, an unreachable database) stop Freqtrade at start-up with
one line.

ROI and stop-loss are set out of reach so that exits come from the model alone, as in
``candor backtest``; set ``minimal_roi`` / ``stoploss`` in the Freqtrade config to add your own
(the two backtests then differ by design).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from freqtrade.exceptions import OperationalException
from freqtrade.strategy import IStrategy

from candor.config import load_config
from candor.errors import CandorError
from candor.freqtrade.export import startup_candles
from candor.freqtrade.signals import SeriesSignals, SignalRefused, StrategySettings, series_signals
from candor.ops.sets import set_misses
from candor.services import Services, open_services

logger = logging.getLogger(__name__)

POSITION, DIRECTION, CONFIDENCE, TAG = "candor_position", "candor_direction", "candor_confidence", "candor_tag"


def _services(settings: StrategySettings) -> Services:
    overrides = {} if settings.home is None else {"home": str(settings.home)}
    return open_services(load_config(settings.config_file, overrides))


class CandorStrategy(IStrategy):
    """Long on the champion's BULLISH above ``candor.min_confidence``, flat otherwise (next-open fills)."""

    INTERFACE_VERSION = 3
    timeframe = "1d"
    can_short = False
    minimal_roi = {"0": 100.0}
    stoploss = -0.99
    use_exit_signal = True
    exit_profit_only = False
    ignore_roi_if_entry_signal = True
    process_only_new_candles = True
    startup_candle_count = 0

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        try:
            self.candor_settings = StrategySettings.from_freqtrade(config)
            self.candor_services = _services(self.candor_settings)
        except CandorError as exc:
            raise OperationalException(f"candor: {exc}") from None
        config_section = self.candor_services.config.backtest
        chosen = self.candor_settings.min_confidence
        self.candor_min_confidence = config_section.min_confidence if chosen is None else chosen

    def bot_start(self, **kwargs: Any) -> None:
        """Say at start-up which champion will serve, and whether the warm-up fits the startup candles."""
        s = self.candor_settings
        try:
            champion = self.candor_services.registry.champion(s.symbol, s.timeframe, s.horizon)
        except CandorError as exc:
            logger.error("candor: %s — no trades until a champion can serve.", exc)
            return
        warmup = startup_candles(champion.model, s.calendar)
        logger.info("candor: %s v%s serves %s/%s (warm-up %d candles, min confidence %s)", champion.name,
                    champion.version, s.symbol, s.timeframe, warmup, self.candor_min_confidence)
        if (self.startup_candle_count or 0) < warmup:
            logger.warning("candor: startup_candle_count is %s but the champion's warm-up is %d candles; the "
                           "first candles get no signal — set \"startup_candle_count\": %d.",
                           self.startup_candle_count, warmup, warmup)

    def _signals(self, dataframe: pd.DataFrame, pair: str) -> SeriesSignals | None:
        s = self.candor_settings
        try:
            champion = self.candor_services.registry.champion(s.symbol, s.timeframe, s.horizon)
            services = self.candor_services
            misses = set_misses(services.engine, [champion.name], series=(s.symbol, s.timeframe))
            return series_signals(champion, dataframe, self.timeframe, min_confidence=self.candor_min_confidence,
                                  calendar=s.calendar, sets=services.config.forecast if s.abstain else None,
                                  misses=misses.get((champion.name, str(champion.version), champion.horizon), ()))
        except SignalRefused as exc:
            logger.warning("candor: %s: %s — no trade.", pair, exc)
        except CandorError as exc:
            logger.error("candor: %s: %s — no trade.", pair, exc)
        return None

    def populate_indicators(self, dataframe: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        signals = self._signals(dataframe, str(metadata.get("pair")))
        if signals is None:
            dataframe[POSITION] = np.nan  # no verdict: neither entry nor exit
            dataframe[DIRECTION] = ""
            dataframe[CONFIDENCE] = np.nan
            dataframe[TAG] = None
            return dataframe
        dataframe[POSITION] = signals.position
        dataframe[DIRECTION] = signals.direction
        dataframe[CONFIDENCE] = signals.confidence
        dataframe[TAG] = signals.tag
        return dataframe

    def populate_entry_trend(self, dataframe: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        long = (dataframe[POSITION] > 0).to_numpy()
        dataframe["enter_long"] = long.astype(int)
        dataframe["enter_tag"] = np.where(long, dataframe[TAG], None)
        return dataframe

    def populate_exit_trend(self, dataframe: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        dataframe["exit_long"] = (dataframe[POSITION] <= 0).to_numpy().astype(int)
        return dataframe
