"""The bar-source options every bar-reading command shares, declared once.

``candor train``, ``features``, ``validate``, ``backtest`` and ``tune-worker`` all read bars through
:func:`candor.data.sources.open_bars`; their options and help texts should not drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from candor.errors import ConfigError

Dataset = Annotated[str | None, typer.Option("--dataset", help="Embedded dataset name (see `candor datasets`).")]
DataFile = Annotated[Path | None, typer.Option("--data", help="CSV or Parquet file of OHLCV bars.")]
Symbol = Annotated[str | None, typer.Option("--symbol", help="Symbol for --data (default: file name, upper-cased).")]
Timeframe = Annotated[str | None, typer.Option(
    "--timeframe", help="m1 m5 m15 h1 h4 d1 w1 (default: inferred from bar spacing; coarser → resampled).")]
TimeZone = Annotated[str | None, typer.Option("--tz", help="Time zone of naive timestamps in --data (default UTC).")]
Calendar = Annotated[str | None, typer.Option(
    "--calendar", help="Exchange calendar of --data (default XNYS), '24/7' for crypto, '24/5' for FX, or 'none'.")]
Period = Annotated[str | None, typer.Option(
    "--period", help="Train on the last 1y, 2y, 3y, 5y or 10y of bars, ending at the last bar, from any source "
                     "(default: every bar given; recorded as data.period in the report and manifest).")]
Source = Annotated[str | None, typer.Option(
    "--source", help="db: read --symbol/--timeframe from the operational database (ohlc_bars, filled by "
                     "`candor data fetch` or `candor data import`) instead of --data / --dataset.")]


def check_output_file(path: Path | None, flag: str) -> None:
    """Refuse an output path that cannot be written *before* the work starts, not after it."""
    if path is None:
        return
    if path.is_dir():
        raise ConfigError(f"`{flag}` must be a file path, not a directory. Got {str(path)!r}.")
    _check_folder(path.parent, flag)


def check_output_folder(path: Path | None, flag: str) -> None:
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise ConfigError(f"`{flag}` must be a directory. Got the file {str(path)!r}.")
    _check_folder(path, flag)


def _check_folder(folder: Path, flag: str) -> None:
    """The nearest existing ancestor must take a new file (tried, and left as it was)."""
    from candor.outputs import check_writable

    check_writable(folder, flag)
