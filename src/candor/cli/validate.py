"""`candor validate` — load bars, run every validation rule and the gap check, print the verdict."""

from __future__ import annotations


import typer

from candor.cli import options
from candor.cli.app import app, console



def _lines(bars, report, filled, *, inferred: bool, policy: str) -> list[str]:
    """Everything the command prints, built before printing so a failure prints nothing."""
    from candor.data.validate import RULES

    attrs = bars.attrs
    span = f"{bars.index[0]} → {bars.index[-1]}" if len(bars) else "empty"
    lines = [f"{attrs['symbol']} {attrs['timeframe']} (calendar {attrs['calendar']}): "
             f"{len(bars):,} bars, {span}"]
    if inferred:
        lines.append(f"timeframe {attrs['timeframe']} inferred from the most common bar spacing")
    lines.append(f"rules passed ({len(RULES)}/{len(RULES)}): {', '.join(RULES)}")
    lines.append(report.summary())
    if policy == "ffill":
        lines.append(f"ffill: inserted {len(filled) - len(bars):,} flat bar(s) (volume 0); "
                     f"{len(filled):,} bars after filling")
    return lines


@app.command("validate")
def validate_command(
    dataset: options.Dataset = None,
    data: options.DataFile = None,
    symbol: options.Symbol = None,
    timeframe: options.Timeframe = None,
    tz: options.TimeZone = None,
    calendar: options.Calendar = None,
    gaps: str = typer.Option("report", "--gaps",
                             help="Missing bars: refuse (error), report, or ffill (insert flat bars)."),
    min_rows: int = typer.Option(0, "--min-rows", min=0, help="Fail with fewer bars than this."),
    adj_close: bool = typer.Option(False, "--adj-close", help="Scale OHLC by 'Adj Close' / close."),
) -> int:
    """Validate bars: order, duplicates, NaN/inf, prices, OHLC consistency, volume, rows, gaps.

    Exit codes: 0 valid, 1 bad data, 3 bad option.
    """
    from candor.data.gaps import apply_gap_policy, check_gap_policy
    from candor.data.sources import open_bars

    check_gap_policy(gaps)  # a bad option fails before any data is read
    bars = open_bars(dataset=dataset, data=data, symbol=symbol, timeframe=timeframe, tz=tz,
                     calendar=calendar, use_adj_close=adj_close, min_rows=min_rows)
    filled, report = apply_gap_policy(bars, gaps)
    inferred = data is not None and timeframe is None
    for line in _lines(bars, report, filled, inferred=inferred, policy=gaps):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return 0
