"""`candor paper` — the paper ledger: served forecasts traded under the backtest's own convention.

A thin shell over :func:`candor.ops.paper.paper_ledger`. Read-only (``--rebuild`` re-books): the
ledger is computed from ``ml_forecasts`` and ``ohlc_bars``, beside the days the drift job booked in
``paper_ledger`` (and a note when they disagree: a forecast resolved out of order). One row per series × horizon: days, live return,
buy & hold over the same bars, live Sharpe [95% CI], the champion's backtest Sharpe (from its
manifest report in the registry) and the abstentions. A series with no resolved forecasts is
one line and exit 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from candor.cli.app import app, console
from candor.cli.db import URL_HELP, _database_url, _missing_sqlite_file, _say
from candor.errors import CandorError, DataError


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2%}"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"


def _table(ledgers: list[Any]) -> Table:
    table = Table(title="Paper ledger (served forecasts, backtest convention: next-bar execution, costs, abstain = flat)")
    for name in ("series", "days", "periods", "live return", "buy & hold", "live Sharpe [95% CI]",
                 "backtest Sharpe", "abstained", "span (UTC)", "booked"):
        table.add_column(name)
    for p in ledgers:
        ci = "" if p.sharpe_ci is None else f" [{p.sharpe_ci[0]:+.2f}, {p.sharpe_ci[1]:+.2f}]"
        table.add_row(f"{p.symbol}/{p.timeframe} h{p.horizon}", str(p.n_days), str(p.n_periods), _pct(p.live_return),
                      _pct(p.buy_and_hold), _num(p.live_sharpe) + ci, _num(p.backtest_sharpe),
                      f"{p.abstained}/{p.n_forecasts}", f"{p.start[:10]}→{p.end[:10]}",
                      f"{p.booked_days} d, to {p.booked_through}" if p.booked_days else "—")
    return table


def _backtest_sharpe_lookup(config_file: Path | None) -> Any:
    """(symbol, timeframe, horizon) → the champion's backtest Sharpe from its report, or None."""
    from candor.config import load_config
    from candor.services import open_services

    config = load_config(config_file)
    # A read-only command leaves a fresh home as it is: no tracking store or home, no champions to ask.
    if _missing_sqlite_file(config.tracking_store) or (config.database_url is None
                                                      and _missing_sqlite_file(config.store_url)):
        return None, None
    try:
        services = open_services(config)
    except CandorError as exc:
        _say(f"note: no backtest Sharpe — the registry could not be opened ({exc})")
        return None, None

    def lookup(symbol: str, timeframe: str, horizon: int) -> float | None:
        try:
            backtest = services.registry.champion(symbol, timeframe, horizon).model.manifest.report.backtest
        except CandorError:
            return None
        return None if backtest is None else backtest.sharpe

    return services, lookup


@app.command("paper")
def paper_command(
    symbol: str = typer.Option(None, "--symbol", help="One symbol (default: every series with resolved forecasts)."),
    timeframe: str = typer.Option(None, "--timeframe", help="One timeframe, e.g. d1."),
    horizon: int = typer.Option(None, "--horizon", min=1, help="One horizon (default: every horizon forecast)."),
    output_json: Path = typer.Option(None, "--output-json", help="Also write the ledgers, with their daily P&L, as JSON here."),
    url: str = typer.Option(None, "--url", help=URL_HELP),
    config_file: Path = typer.Option(None, "--config", help="candor.toml to read (default ./candor.toml)."),
    no_registry: bool = typer.Option(False, "--no-registry", help="Skip the champions' backtest Sharpe (no MLflow)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Re-book the series' days in paper_ledger from its forecasts "
                                 "(after forecasts resolved out of order); the one option that writes."),
) -> None:
    """The paper ledger: each series' served, resolved forecasts traded as the backtest trades them
    (position at the next bar's open, costs, abstain = flat), beside buy & hold over the same bars and
    the champion's backtest Sharpe, and which days the drift job has booked in paper_ledger. Read-only
    unless --rebuild. Exit codes: 0 ok, 1 no forecasts to put on paper."""
    from candor.cli.options import check_output_file
    from candor.data.bars import check_symbol, check_timeframe

    check_output_file(output_json, "--output-json")
    if symbol is not None:
        check_symbol(symbol)
    if timeframe is not None:
        check_timeframe(timeframe)
    from candor.config import load_config
    from candor.store import connect_store
    from candor.store.engine import safe_url

    resolved = _database_url(url, create_home=False)
    where = safe_url(resolved)
    if _missing_sqlite_file(resolved):
        raise DataError(f"no forecasts to put on paper: {where} does not exist")
    from candor.ops.paper import forecast_series, paper_ledger
    from candor.records.live import PaperReport

    backtest_config = load_config(config_file).backtest
    services, lookup = (None, None) if no_registry else _backtest_sharpe_lookup(config_file)
    try:
        with connect_store(resolved) as store:
            series = forecast_series(store.engine)
            if symbol is not None or timeframe is not None:
                series = [(s, t) for s, t in series if symbol in (None, s) and timeframe in (None, t)]
                if not series:
                    wanted = f"{symbol or '*'}/{timeframe or '*'}"
                    raise DataError(f"no resolved forecasts for {wanted}: nothing to put on paper "
                                    "(run `candor ops forecast` and let bars past the horizon arrive)")
            if not series:
                raise DataError(f"no resolved forecasts in {where}: nothing to put on paper")
            if rebuild:
                from candor.ops.paper import book_ledger

                for s, t in series:
                    _say(f"re-booked {book_ledger(store.engine, s, t, config=backtest_config, rebuild=True)} day(s) "
                         f"of {s}/{t}")
            ledgers = [p for s, t in series for p in paper_ledger(
                store.engine, s, t, horizon=horizon, config=backtest_config, backtest_sharpe=lookup)]
    finally:
        if services is not None:
            services.close()
    if output_json is not None:
        from candor.outputs import write_text_atomic

        write_text_atomic(output_json, PaperReport(database=where, ledgers=tuple(ledgers)).model_dump_json(indent=2),
                          what="paper ledger JSON")
    console.print(_table(ledgers))
    for p in ledgers:
        if p.booking_note:
            _say(f"note: {p.booking_note}")
    _say(f"{len(ledgers)} ledger(s) — {where}")
