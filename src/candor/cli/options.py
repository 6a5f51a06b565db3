"""The bar-source options every bar-reading command shares, declared once.

``candor train``, ``features``, ``validate``, ``backtest`` and ``tune-worker`` all read bars through
:func:`candor.data.sources.open_bars`; their options and help texts should not drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Dataset = Annotated[str | None, typer.Option("--dataset", help="Embedded dataset name (see `candor datasets`).")]
DataFile = Annotated[Path | None, typer.Option("--data", help="CSV or Parquet file of OHLCV bars.")]
Symbol = Annotated[str | None, typer.Option("--symbol", help="Symbol for --data (default: file name, upper-cased).")]
Timeframe = Annotated[str | None, typer.Option(
    "--timeframe", help="m1 m5 m15 h1 h4 d1 w1 (default: inferred from bar spacing; coarser → resampled).")]
TimeZone = Annotated[str | None, typer.Option("--tz", help="Time zone of naive timestamps in --data (default UTC).")]
Calendar = Annotated[str | None, typer.Option(
    "--calendar", help="Exchange calendar of --data (default XNYS), '24/7' for crypto, or 'none'.")]
