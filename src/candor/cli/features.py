"""`candor features` — summarise the feature columns computed for some bars."""

from __future__ import annotations

import typer
from rich.table import Table

from candor.cli import options
from candor.cli.app import app, console


@app.command("features")
def features_command(
    dataset: options.Dataset = None,
    data: options.DataFile = None,
    symbol: options.Symbol = None,
    timeframe: options.Timeframe = None,
    tz: options.TimeZone = None,
    calendar: options.Calendar = None,
    groups: str = typer.Option(None, "--groups",
                               help="Comma list of groups: returns,volume,momentum,volatility,trend,time,context."),
    periods: str = typer.Option(None, "--periods", help="short,medium,long periods (default 14,50,200)."),
) -> int:
    """Print each feature's name, group, warm-up bars and NaN share for the given bars.

    Exit codes: 0 ok, 1 bad data, 3 bad option.
    """
    from candor.data.sources import open_bars
    from candor.features import describe_features, parse_feature_set

    feature_set = parse_feature_set(groups, periods)
    bars = open_bars(dataset=dataset, data=data, symbol=symbol, timeframe=timeframe, tz=tz, calendar=calendar)
    infos = describe_features(bars, feature_set)
    attrs = bars.attrs
    table = Table(title=f"Features for {attrs['symbol']} {attrs['timeframe']} ({len(bars):,} bars)")
    for column, justify in (("name", "left"), ("group", "left"), ("warm-up bars", "right"),
                            ("NaN share", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for info in infos:
        table.add_row(info.name, info.group, f"{info.warmup:,}", f"{info.nan_share:.1%}")
    console.print(table)
    longest = max((i.warmup for i in infos), default=0)
    used = sorted({i.group for i in infos})
    console.print(f"total: {len(infos)} features in {len(used)} groups ({', '.join(used)}); "
                  f"longest warm-up {longest:,} bars")
    return 0
