"""Write the strategy file and a config snippet into a Freqtrade ``user_data/`` folder.

The strategy file is a three-line subclass of :class:`candor.freqtrade.strategy.CandorStrategy`:
the logic stays in the installed candor (upgraded with it, never copied), and Freqtrade finds a
class defined in its ``strategies/`` folder, as its loader requires. The snippet
(``candor-<symbol>-<timeframe>.json``) is meant as a second ``--config`` after the user's own
(exchange keys, stake, wallet): it names the strategy, the timeframe, the pair, the startup
candles the champion needs and the ``"candor"`` section the strategy reads.

Everything is checked before anything is written: the champion must serve now (hash- and
age-checked by :meth:`~candor.registry.Registry.champion`), and an existing file that differs is
refused unless ``overwrite``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from candor.errors import ConfigError
from candor.features import warmup_bars
from candor.freqtrade.signals import FREQTRADE_TIMEFRAMES, StrategySettings
from candor.outputs import write_text_atomic
from candor.registry.registry import Registry

if TYPE_CHECKING:
    from candor.registry.artifact import CandorModel

STRATEGY_CLASS = "CandorStrategy"
STRATEGY_FILE = f"{STRATEGY_CLASS}.py"
STRATEGY_SOURCE = f'''"""Written by `candor freqtrade export`: trades candor's champion (see docs/freqtrade.md).

The logic lives in the installed candor package (candor.freqtrade.strategy); this file only lets
Freqtrade's strategy loader find it in user_data/strategies/.
"""

from candor.freqtrade.strategy import {STRATEGY_CLASS} as _Candor


class {STRATEGY_CLASS}(_Candor):
    pass
'''


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_strategy` wrote and for which champion."""

    strategy_file: Path
    config_file: Path
    pair: str
    champion: str
    version: str
    warmup: int


def startup_candles(model: CandorModel, calendar: str | None) -> int:
    """The candles before a champion's first signal: the catalog's warm-up of its feature set for its
    timeframe (each feature's first used value within 1% of a standard deviation of the value a
    full history gives, wherever the candles start). A champion saved before the warm-ups were
    measured records the shorter nominal one; the larger of the two is used."""
    manifest = model.manifest
    return max(int(manifest.warmup), warmup_bars(manifest.feature_set, model.timeframe, calendar))


def default_pair(symbol: str) -> str:
    """Freqtrade's ``BASE/QUOTE`` for a candor symbol written ``BASE-QUOTE`` (``BTC-USDT`` → ``BTC/USDT``)."""
    base, dash, quote = symbol.partition("-")
    if not dash or not base or not quote or "-" in quote:
        raise ConfigError(f"cannot tell the Freqtrade pair of symbol {symbol!r}; pass --pair BASE/QUOTE "
                          "(e.g. --pair BTC/USDT).")
    return f"{base}/{quote}"


#: A Freqtrade pair: BASE/QUOTE, or BASE/QUOTE:SETTLE for futures, each part letters, digits, ``.``, ``_``
#: or ``-`` (1000SHIB/USDT, BTC/USDT:USDT). The pair is written into a JSON config and a strategy's
#: whitelist: quotes, braces or spaces would end up in them.
_PART = r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}"
_PAIR = re.compile(rf"{_PART}/{_PART}(?::{_PART})?")


def _check_pair(pair: str) -> str:
    if not isinstance(pair, str) or not _PAIR.fullmatch(pair):
        raise ConfigError("`pair` must be a Freqtrade pair BASE/QUOTE (or BASE/QUOTE:SETTLE) of letters, digits, "
                          f". _ or -, such as BTC/USDT. Got {pair!r}.")
    return pair


def check_export(settings: StrategySettings, user_data: Path, pair: str | None, exchange: str) -> str:
    """The options' own checks (no registry needed), so a bad one fails before any lookup: the pair."""
    if not exchange or not exchange.replace("_", "").isalnum():
        raise ConfigError(f"`exchange` must be a Freqtrade exchange name such as binance. Got {exchange!r}.")
    if Path(user_data).exists() and not Path(user_data).is_dir():
        raise ConfigError(f"`--user-data` must be a directory. Got the file {str(user_data)!r}.")
    return _check_pair(pair) if pair is not None else default_pair(settings.symbol)


def config_snippet(settings: StrategySettings, pair: str, warmup: int, exchange: str) -> dict[str, object]:
    """The Freqtrade config keys the strategy needs (merged over the user's own config)."""
    return {
        "strategy": STRATEGY_CLASS,
        "timeframe": FREQTRADE_TIMEFRAMES[settings.timeframe],
        "startup_candle_count": warmup,
        "stake_currency": pair.partition("/")[2].split(":")[0],
        "exchange": {"name": exchange, "pair_whitelist": [pair]},
        "pairlists": [{"method": "StaticPairList"}],
        "candor": settings.to_freqtrade(),
    }


def export_strategy(registry: Registry, settings: StrategySettings, user_data: Path, *, pair: str | None = None,
                    exchange: str = "binance", overwrite: bool = False) -> ExportResult:
    """Check the champion serves, then write ``strategies/CandorStrategy.py`` and the config snippet."""
    pair = check_export(settings, user_data, pair, exchange)
    user_data = Path(user_data)
    champion = registry.champion(settings.symbol, settings.timeframe, settings.horizon)
    warmup = startup_candles(champion.model, settings.calendar)
    snippet = json.dumps(config_snippet(settings, pair, warmup, exchange.lower()), indent=2) + "\n"
    strategy_file = user_data / "strategies" / STRATEGY_FILE
    config_file = user_data / f"candor-{settings.symbol}-{settings.timeframe}.json"
    files = {strategy_file: STRATEGY_SOURCE, config_file: snippet}
    for path, text in files.items():
        if path.is_dir():
            raise ConfigError(f"{path} is a directory; remove it or pass another --user-data.")
        if path.exists() and not overwrite and path.read_text(encoding="utf-8", errors="replace") != text:
            raise ConfigError(f"{path} exists and differs from what candor would write; pass --force to replace it.")
    for path, text in files.items():
        write_text_atomic(path, text, what="Freqtrade file")
    return ExportResult(strategy_file, config_file, pair, champion.name, champion.version, warmup)
