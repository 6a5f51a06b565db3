"""`candor datasets` — list the embedded real datasets."""

from __future__ import annotations

from rich.table import Table

from candor.cli.app import app, console


@app.command("datasets")
def datasets_command() -> None:
    """List the embedded real datasets: name, symbol, timeframe, rows, first and last bar."""
    from candor.data.datasets import describe_datasets

    table = Table(title="Embedded datasets (shipped inside installed packages; nothing is downloaded)")
    for column in ("name", "symbol", "timeframe", "rows", "first bar", "last bar", "source"):
        table.add_column(column)
    for info in describe_datasets():
        table.add_row(info.name, info.symbol, info.timeframe, f"{info.rows:,}",
                      str(info.first), str(info.last), info.source)
    console.print(table)
