"""A champion's signals on the dataframe Freqtrade passes a strategy — no Freqtrade import here.

The strategy (:mod:`candor.freqtrade.strategy`) is a thin shell over :func:`series_signals`, so
the signal logic is plain, testable Python and runs without Freqtrade installed.

Why the signals equal ``candor backtest``'s: they come from the same two functions —
:func:`candor.backtest.replay.probabilities` (the champion's own ``features``, i.e.
:func:`candor.features.compute_features` with the feature set it was trained with, then its
``predict_proba``) and :func:`candor.backtest.engine.target_positions` (BULLISH above the
confidence → long, anything else → flat). Freqtrade and candor also share the execution
convention: a signal computed on candle t (its close) is filled at candle t+1's open — candor's
``next_open``.

Freqtrade is long/flat here (spot): ``enter_long`` where the position is +1, ``exit_long``
everywhere else — BEARISH, NEUTRAL, a confidence below the threshold and rows without complete
features alike, exactly like ``candor backtest --no-short``.

Abstention (:mod:`candor.ops.sets`): where the forecast job would abstain — the champion's
conformal set at the current level holds more or fewer than one class, or it has no significant
edge under ``forecast.abstain_without_edge`` — the direction is ``NONE`` and the position flat:
no entry on an abstention. The whole dataframe is judged at the level of the newest candle.
``"abstain": false`` in the ``"candor"`` section turns this off (the signals then equal
``candor backtest``'s, which knows no abstention yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from candor.backtest.config import BacktestConfig
from candor.backtest.engine import target_positions
from candor.backtest.replay import probabilities
from candor.data.bars import OHLCV, check_symbol, check_timeframe, make_bars
from candor.data.gaps import CONTINUOUS, check_calendar
from candor.data.validate import validate_bars
from candor.errors import ConfigError, DataError
from candor.labels import CLASS_NAMES
from candor.ops.sets import abstaining_rows
from candor.store.forecasts import ABSTAIN
from candor.registry.champions import Champion

#: Freqtrade's timeframe strings for candor's timeframes (the others have no candor model).
FREQTRADE_TIMEFRAMES: dict[str, str] = {"m1": "1m", "m5": "5m", "m15": "15m", "h1": "1h", "h4": "4h",
                                        "d1": "1d", "w1": "1w"}
CANDOR_TIMEFRAMES: dict[str, str] = {ft: candor for candor, ft in FREQTRADE_TIMEFRAMES.items()}
#: The section of a Freqtrade config the strategy reads.
CONFIG_SECTION = "candor"
_SETTINGS_KEYS = ("symbol", "timeframe", "horizon", "min_confidence", "calendar", "config_file", "home", "abstain")


class SignalRefused(DataError):
    """The dataframe cannot be scored by the champion (too short, other timeframe): no trade."""


def candor_timeframe(freqtrade_timeframe: str) -> str:
    """candor's name of a Freqtrade timeframe (``"1d"`` → ``"d1"``), or :class:`ConfigError`."""
    if freqtrade_timeframe not in CANDOR_TIMEFRAMES:
        raise ConfigError(f"Freqtrade timeframe {freqtrade_timeframe!r} has no candor equivalent; use one of "
                          f"{', '.join(CANDOR_TIMEFRAMES)}.")
    return CANDOR_TIMEFRAMES[freqtrade_timeframe]


@dataclass(frozen=True)
class StrategySettings:
    """The ``"candor"`` section of a Freqtrade config: which champion serves and how it trades.

    ``min_confidence`` None falls back to candor's ``[backtest] min_confidence`` (the one default);
    ``config_file`` / ``home`` say where candor's config and home are (default: ``./candor.toml``
    and ``CANDOR_HOME``), so the strategy reads the same registry as ``candor train``.
    """

    symbol: str
    timeframe: str
    horizon: int | None = None
    min_confidence: float | None = None
    calendar: str | None = CONTINUOUS
    config_file: Path | None = None
    home: Path | None = None
    abstain: bool = True  # false: trade every BULLISH above the confidence, as ``candor backtest`` does

    def __post_init__(self) -> None:
        if not isinstance(self.abstain, bool):
            raise ConfigError(f"`candor.abstain` must be true or false. Got {self.abstain!r}.")
        check_symbol(self.symbol)
        check_timeframe(self.timeframe)
        check_calendar(self.calendar)
        if self.horizon is not None and (isinstance(self.horizon, bool) or not isinstance(self.horizon, int)
                                         or self.horizon < 1):
            raise ConfigError(f"`candor.horizon` must be a whole number >= 1. Got {self.horizon!r}.")
        if self.min_confidence is not None and (isinstance(self.min_confidence, bool)
                                                or not isinstance(self.min_confidence, (int, float))
                                                or not 0.0 < self.min_confidence <= 1.0):
            raise ConfigError(f"`candor.min_confidence` must be in (0, 1]. Got {self.min_confidence!r}.")

    @classmethod
    def from_freqtrade(cls, config: Mapping[str, Any]) -> StrategySettings:
        """Parse the ``"candor"`` section of a Freqtrade config dict (one :class:`ConfigError` if bad)."""
        section = config.get(CONFIG_SECTION)
        if not isinstance(section, Mapping):
            raise ConfigError(f"the Freqtrade config has no `{CONFIG_SECTION}` section naming the champion; write "
                              "one with `candor freqtrade export --symbol S --timeframe TF --user-data DIR`.")
        unknown = sorted(set(section) - set(_SETTINGS_KEYS))
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(unknown)} in the Freqtrade config's `{CONFIG_SECTION}` "
                              f"section; known: {', '.join(_SETTINGS_KEYS)}.")
        for key in ("symbol", "timeframe"):
            if not isinstance(section.get(key), str):
                raise ConfigError(f"`{CONFIG_SECTION}.{key}` must be set in the Freqtrade config (a string). "
                                  f"Got {section.get(key)!r}.")
        paths = {key: None if section.get(key) in (None, "") else Path(str(section[key])).expanduser()
                 for key in ("config_file", "home")}
        return cls(symbol=section["symbol"], timeframe=section["timeframe"], horizon=section.get("horizon"),
                   min_confidence=section.get("min_confidence"),
                   calendar=section.get("calendar", CONTINUOUS), abstain=section.get("abstain", True), **paths)

    def to_freqtrade(self) -> dict[str, Any]:
        """The section as JSON values (what ``candor freqtrade export`` writes)."""
        out: dict[str, Any] = {"symbol": self.symbol, "timeframe": self.timeframe, "horizon": self.horizon,
                               "min_confidence": self.min_confidence, "calendar": self.calendar,
                               "abstain": self.abstain}
        for key in ("config_file", "home"):
            value = getattr(self, key)
            if value is not None:
                out[key] = str(value)
        return out


def bars_from_dataframe(dataframe: pd.DataFrame, symbol: str, timeframe: str,
                        calendar: str | None = CONTINUOUS) -> pd.DataFrame:
    """Freqtrade's candles (``date`` = candle open time, UTC) as a validated candor bar frame."""
    missing = [c for c in ("date", *OHLCV) if c not in dataframe.columns]
    if missing:
        raise DataError(f"the Freqtrade dataframe lacks column(s) {', '.join(missing)}.")
    # Freqtrade keeps dates at millisecond resolution; candor's checks read nanosecond stamps.
    index = pd.DatetimeIndex(pd.to_datetime(dataframe["date"], utc=True)).as_unit("ns")
    frame = pd.DataFrame({c: dataframe[c].to_numpy() for c in OHLCV}, index=index)
    bars = make_bars(frame, symbol, timeframe, calendar)
    validate_bars(bars)
    return bars


@dataclass(frozen=True)
class SeriesSignals:
    """One champion's verdict per Freqtrade candle, in the dataframe's row order.

    ``position`` is candor's target position after the candle (1 long, 0 flat); ``direction`` and
    ``confidence`` are empty / NaN on rows without complete features.
    """

    position: np.ndarray
    direction: np.ndarray
    confidence: np.ndarray
    tag: str

    @property
    def n_long(self) -> int:
        return int(np.count_nonzero(self.position > 0))


def trade_tag(champion: Champion) -> str:
    """The ``enter_tag`` of a trade: which registered version decided it (``candor.BTC-USDT.d1 v3``)."""
    return f"{champion.name} v{champion.version}"


def check_timeframes(champion: Champion, freqtrade_timeframe: str) -> str:
    """The candor timeframe Freqtrade runs at, if it is the champion's; else :class:`SignalRefused`."""
    runs_at = CANDOR_TIMEFRAMES.get(freqtrade_timeframe)
    if runs_at != champion.model.timeframe:
        want = FREQTRADE_TIMEFRAMES[champion.model.timeframe]
        raise SignalRefused(f"Freqtrade runs at timeframe {freqtrade_timeframe} but the champion {champion.name} "
                            f"v{champion.version} was trained on {champion.model.timeframe} bars; set "
                            f"\"timeframe\": \"{want}\" in the Freqtrade config.")
    return runs_at


def series_signals(champion: Champion, dataframe: pd.DataFrame, freqtrade_timeframe: str, *,
                   min_confidence: float | None, calendar: str | None = CONTINUOUS,
                   sets: Any = None, misses: Any = ()) -> SeriesSignals:
    """Score every candle of ``dataframe`` with ``champion``; :class:`SignalRefused` when it cannot.

    Refused (the strategy logs the line and trades nothing): a timeframe other than the
    champion's, a dataframe no longer than the champion's warm-up, candles that fail candor's
    bar validation. ``sets`` (``config.forecast``) turns abstentions flat; ``misses``: the
    champion's resolved set misses (:func:`candor.ops.sets.set_misses`) for ACI's level.
    """
    timeframe = check_timeframes(champion, freqtrade_timeframe)
    model = champion.model
    warmup = int(model.manifest.warmup)
    if len(dataframe) <= warmup:
        raise SignalRefused(f"the Freqtrade dataframe has {len(dataframe)} candles but the champion {champion.name} "
                            f"v{champion.version} needs more than its warm-up of {warmup}; set "
                            f"\"startup_candle_count\": {warmup} and supply a longer history.")
    bars = bars_from_dataframe(dataframe, model.symbol, timeframe, calendar)
    proba = probabilities(model, bars, bars.index[0])
    wanted, _ = target_positions(proba, BacktestConfig(min_confidence=min_confidence, short_on_bearish=False))
    rows = bars.index.get_indexer(proba.index)
    n = len(dataframe)
    position, confidence = np.zeros(n), np.full(n, np.nan)
    direction = np.full(n, "", dtype=object)
    probs = proba.to_numpy()
    best = probs.argmax(axis=1)
    position[rows] = wanted
    confidence[rows] = probs[np.arange(len(best)), best]
    direction[rows] = [CLASS_NAMES[int(proba.columns[j])] for j in best]
    if sets is not None:
        names = [CLASS_NAMES[int(c)] for c in proba.columns]
        abstain = rows[abstaining_rows(probs, names, champion.model.manifest.report, sets, misses)]
        position[abstain], direction[abstain] = 0.0, ABSTAIN
    return SeriesSignals(position, direction, confidence, trade_tag(champion))
