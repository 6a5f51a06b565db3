"""`candor freqtrade export` — the strategy file and config snippet for a Freqtrade ``user_data/``.

A thin shell over :func:`candor.freqtrade.export.export_strategy`: it parses the flags into
:class:`~candor.freqtrade.signals.StrategySettings`, opens the services, calls the library and
prints the ``freqtrade`` command that uses the files. Bad input is one line, nothing written.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer

from candor.cli import options
from candor.cli.app import app, console

freqtrade_app = typer.Typer(name="freqtrade", no_args_is_help=True,
                            help="Freqtrade integration: a strategy that trades a series' champion.")
app.add_typer(freqtrade_app, name="freqtrade")


@freqtrade_app.command("export")
def export_command(
    symbol: str = typer.Option(..., "--symbol", help="Series whose champion trades (e.g. BTC-USDT)."),
    timeframe: str = typer.Option(..., "--timeframe", help="The champion's timeframe: m1 m5 m15 h1 h4 d1 w1."),
    user_data: Path = typer.Option(..., "--user-data", help="Freqtrade user_data/ folder to write into."),
    horizon: int = typer.Option(None, "--horizon", help="The champion's horizon in bars (default 5)."),
    pair: str = typer.Option(None, "--pair", help="Freqtrade pair BASE/QUOTE (default: from SYMBOL written BASE-QUOTE)."),
    exchange: str = typer.Option("binance", "--exchange", help="Freqtrade exchange name for the snippet."),
    min_confidence: float = typer.Option(None, "--min-confidence",
                                         help="Enter only above this probability (default: the config's backtest.min_confidence)."),
    calendar: str = typer.Option("24/7", "--calendar", help="Calendar of the candles: 24/7 (crypto), XNYS, ... or none."),
    force: bool = typer.Option(False, "--force", help="Replace existing files that differ."),
    config_file: Path = typer.Option(None, "--config", help="candor.toml to read (default ./candor.toml)."),
) -> None:
    """Write strategies/CandorStrategy.py and candor-SYMBOL-TF.json into a Freqtrade user_data/ folder.

    Exit codes: 0 ok, 1 no servable champion, 3 bad option or a file in the way.
    """
    # lazy: the library is imported when the command runs, so --help and option errors start in < 0.5 s
    from candor.config import load_config
    from candor.freqtrade.export import check_export, export_strategy
    from candor.freqtrade.signals import StrategySettings
    from candor.services import open_services

    options.check_output_folder(user_data, "--user-data")
    config = load_config(config_file)
    settings = StrategySettings(symbol=symbol, timeframe=timeframe, horizon=horizon, min_confidence=min_confidence,
                                calendar=calendar, config_file=None if config_file is None else config_file.resolve(),
                                home=config.home)
    check_export(settings, user_data, pair, exchange)  # option errors before the database is opened
    with open_services(config) as services:
        result = export_strategy(services.registry, settings, user_data, pair=pair, exchange=exchange, overwrite=force)
    say = lambda text: console.print(text, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    say(f"{result.champion} v{result.version} (warm-up {result.warmup} candles) → {result.pair}")
    say(f"wrote {result.strategy_file}")
    say(f"wrote {result.config_file}")
    say(f"run: freqtrade backtesting --userdir {user_data} --config <your config.json> --config {result.config_file}")
    if importlib.util.find_spec("freqtrade") is None:
        say("note: Freqtrade is not installed here — pip install 'candor[freqtrade]'")
