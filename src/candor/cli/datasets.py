"""`candor datasets` — list the embedded real datasets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from candor.cli.app import app, console

if TYPE_CHECKING:  # pandas is imported when the command runs (describe_datasets), not at start-up
    import pandas as pd


def _when(ts: pd.Timestamp, timeframe: str) -> str:
    """Daily and weekly bars by date; intraday bars to the minute, in UTC."""
    return ts.strftime("%Y-%m-%d") if timeframe in ("d1", "w1") else ts.strftime("%Y-%m-%d %H:%M")


@app.command("datasets")
def datasets_command() -> None:
    """List the embedded real datasets: name, symbol, timeframe, rows, first and last bar."""
    from candor.data.datasets import describe_datasets

    infos = describe_datasets()
    table = Table(title="Embedded datasets (inside installed packages; nothing is downloaded)",
                  box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True, pad_edge=False)
    for column in ("name", "symbol", "tf", "rows", "first bar (UTC)", "last bar (UTC)"):
        table.add_column(column, no_wrap=True, justify="right" if column == "rows" else "left")
    table.add_column("source", overflow="fold")
    for info in infos:
        table.add_row(info.name, info.symbol, info.timeframe, f"{info.rows:,}",
                      _when(info.first, info.timeframe), _when(info.last, info.timeframe), info.source)
    console.print(table)
    console.print("Bars are labelled at their open; daily bars at the session date.", highlight=False)
    for info in infos:
        if info.note:
            console.print(f"  {info.name}: {info.note}", highlight=False, markup=False)
