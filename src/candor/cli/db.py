"""`candor db upgrade | current` and `candor data import | list | fetch` — thin shells over :mod:`candor.store`.

The database is ``--url``, else the config's :attr:`~candor.config.Config.store_url`
(``CANDOR_DATABASE_URL`` or candor.toml, else ``sqlite:///<home>/candor.db``). Printed URLs
never show a password.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from candor.cli.app import app, console

URL_HELP = "Database URL (default: CANDOR_DATABASE_URL, candor.toml, or sqlite:///<home>/candor.db)."


def _group(name: str, help_text: str) -> typer.Typer:
    """The sub-app called ``name``, created once: other modules may add commands to it too."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(name=name, help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name, help=help_text)
    return group


db_app = _group("db", "Operational database: migrate it and show its schema revision.")
data_app = _group("data", "Bars in the operational database.")


def _database_url(url: str | None, *, create_home: bool = True) -> str:
    """``--url`` > the configured database (``database_url``, else SQLite under home, which is
    created unless ``create_home`` is off: a command that only reads must leave a fresh home as it is)."""
    if url:
        return url
    # lazy: the config and services load when a command runs, so --help and option errors start in < 0.5 s
    from candor.config import load_config
    from candor.services import ensure_home

    config = load_config()
    if create_home and config.database_url is None:  # only the embedded default lives under home
        ensure_home(config)
    return config.store_url


def _missing_sqlite_file(url: str) -> bool:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return False  # not a URL: the store's own check words the error (without echoing it)
    return parsed.get_backend_name() == "sqlite" and bool(parsed.database) and parsed.database != ":memory:" \
        and not Path(parsed.database).exists()


def _open_store(url: str | None) -> Any:
    """``--url`` (must be at this candor's schema), else the configured store
    (:func:`candor.services.open_store`: the embedded default gets its schema on first use)."""
    if url:
        from candor.store import connect_store

        return connect_store(url)
    from candor.config import load_config
    from candor.services import open_store

    return open_store(load_config())


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@db_app.command("upgrade")
def upgrade_command(url: str = typer.Option(None, "--url", help=URL_HELP)) -> None:
    """Create or migrate the operational tables to this candor's schema (safe to re-run)."""
    from candor.store.migrate import upgrade

    result = upgrade(_database_url(url))
    if result.changed:
        _say(f"{result.url}: upgraded {result.before or 'empty'} → {result.after}")
    else:
        _say(f"{result.url}: already at head {result.after}")


@db_app.command("current")
def current_command(url: str = typer.Option(None, "--url", help=URL_HELP)) -> None:
    """Show the database's schema revision beside this candor's head."""
    from candor.store.engine import safe_url
    from candor.store.migrate import current_revision, head_revision

    resolved = _database_url(url, create_home=False)
    if _missing_sqlite_file(resolved):  # reading it would create an empty file (and the home around it)
        _say(f"{safe_url(resolved)}: empty (head {head_revision()}); run: candor db upgrade (no database file yet"
             + ("" if url else "; the embedded store is also created on first use") + ")")
        return
    revision, head = current_revision(resolved), head_revision()
    if revision == head:
        state = f"{revision} (head)"
    elif revision is None:
        state = f"empty (head {head}); run: candor db upgrade"
    else:
        state = f"{revision} (head {head}); run: candor db upgrade"
    _say(f"{safe_url(resolved)}: {state}")


REVISIONS_HELP = ("A stored bar whose prices differ: refuse (default: one line naming them, nothing written), "
                  "replace the stored values, or keep them (default: data.revisions).")


def _revision_policy(revisions: str | None) -> str:
    """``--revisions``, else the configured ``data.revisions`` (checked by the config: exit 3)."""
    from candor.config import load_config

    return load_config(None, {"data": {"revisions": revisions}} if revisions is not None else None).data.revisions


def _revised(result: Any) -> str:
    if not result.revised:
        return ""
    return f", {result.revised:,} revised bar(s) {'replaced' if result.revisions == 'replace' else 'kept as stored'}"


@data_app.command("import")
def import_command(
    data: list[Path] = typer.Option(..., "--data", help="CSV or Parquet file of OHLCV bars; repeat it (with one "
                                    "--symbol each, in the same order) to import several series in one go."),
    symbol: list[str] = typer.Option(..., "--symbol", help="Symbol the bars belong to, e.g. SPX (one per --data)."),
    timeframe: str = typer.Option(None, "--timeframe", help="m1 m5 m15 h1 h4 d1 w1 (default: inferred from the bar "
                                  "spacing, as validate does; a coarser one resamples)."),
    tz: str = typer.Option(None, "--tz", help="Time zone of naive timestamps in the file (default UTC)."),
    calendar: str = typer.Option(None, "--calendar", help="Exchange calendar code (default XNYS; 24/7 for a file "
                                 "with weekend bars), '24/7', '24/5' (FX) or 'none'."),
    revisions: str = typer.Option(None, "--revisions", help=REVISIONS_HELP),
    url: str = typer.Option(None, "--url", help=URL_HELP),
) -> None:
    """Validate bar files and store them in ohlc_bars; bars already there are kept, not duplicated.

    Several ``--data``/``--symbol`` pairs are all read and validated before the store is opened, so
    one bad file writes nothing; then each is stored in turn (one process for a daily import)."""
    from candor.application.ingest import import_file_bars
    from candor.data.bars import check_symbol, check_timeframe
    from candor.data.sources import open_bars
    from candor.errors import ConfigError

    if len(data) != len(symbol):
        raise ConfigError(f"give one --symbol per --data, in the same order. Got {len(data)} file(s) and "
                          f"{len(symbol)} symbol(s).")
    if timeframe is not None:
        check_timeframe(timeframe)
    for name in symbol:
        check_symbol(name)
    policy = _revision_policy(revisions)
    series = [open_bars(data=path, symbol=name, timeframe=timeframe, tz=tz, calendar=calendar)
              for path, name in zip(data, symbol)]
    inferred = "" if timeframe is not None else " (timeframe inferred from the bar spacing)"
    with _open_store(url) as store:
        for name, bars in zip(symbol, series):
            result = import_file_bars(store.engine, bars, revisions=policy)
            _say(f"{name}/{result.timeframe}{inferred}: {result.added:,} new bar(s), {result.already_stored:,} "
                 f"already there{_revised(result)} — {store.url}")


@data_app.command("list")
def list_command(url: str = typer.Option(None, "--url", help=URL_HELP)) -> None:
    """Each stored series: its bar count, first bar and newest bar (reads only)."""
    from rich.table import Table

    from candor.store import list_series
    from candor.store.engine import safe_url

    resolved = _database_url(url, create_home=False)
    if _missing_sqlite_file(resolved):  # reading it would create an empty file (and the home around it)
        _say(f"{safe_url(resolved)}: no bars stored yet (no database file); import some with: "
             "candor data import --data FILE --symbol SYMBOL")
        return
    with _open_store(url) as store:
        series = list_series(store.engine)
        target = store.url
    if not series:
        _say(f"{target}: no bars stored yet; import some with: candor data import --data FILE --symbol SYMBOL")
        return
    table = Table("series", "bars", "first", "newest", title=f"stored series — {target}")
    for info in series:
        table.add_row(f"{info.symbol}/{info.timeframe}", f"{info.n_bars:,}", str(info.first), str(info.last))
    console.print(table)


@data_app.command("fetch")
def fetch_command(
    provider: str = typer.Option(..., "--provider", help="yfinance (Yahoo) or ccxt (crypto exchanges); optional extras."),
    symbol: str = typer.Option(..., "--symbol", help="The provider's symbol, e.g. SPY, ^GSPC, BTC/USDT (stored as BTC-USDT)."),
    timeframe: str = typer.Option(..., "--timeframe", help="m1 m5 m15 h1 h4 d1 w1."),
    period: str = typer.Option("1y", "--period", help="How far back from now: 30d, 12w, 6mo, 5y (default 1y)."),
    exchange: str = typer.Option(None, "--exchange", help="With ccxt: the exchange id (default binance)."),
    calendar: str = typer.Option(None, "--calendar", help="Override the inferred calendar: an exchange code, '24/7' or 'none'."),
    gaps: str = typer.Option("refuse", "--gaps", help="Missing bars: refuse (default), report or ffill."),
    revisions: str = typer.Option(None, "--revisions", help=REVISIONS_HELP),
    url: str = typer.Option(None, "--url", help=URL_HELP),
) -> None:
    """Download bars from a provider, validate them like a file and store them in ohlc_bars (idempotent)."""
    from candor.config import load_config, under_home
    from candor.application.ingest import store_bars
    from candor.data.providers import check_fetch, fetch_bars

    check_fetch(provider, symbol, timeframe, period, exchange=exchange, calendar=calendar, gaps=gaps)
    config = load_config(None, {"data": {"revisions": revisions}} if revisions is not None else None)
    cache_dir = str(under_home(config.home, "cache", provider))
    with _open_store(url) as store:  # an unreachable database fails before the download
        bars = fetch_bars(provider, symbol, timeframe, period, exchange=exchange, calendar=calendar, gaps=gaps,
                          cache_dir=cache_dir)
        result = store_bars(store.engine, bars, gaps=gaps, revisions=config.data.revisions)
        target = store.url
    _say(f"{result.symbol}/{result.timeframe} from {provider} {symbol}: {result.received:,} bar(s) "
         f"{result.first} → {result.last}, {result.added:,} new, {result.already_stored:,} already there{_revised(result)} — {target}")
