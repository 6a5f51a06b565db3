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
    from candor.errors import DataError
    from candor.features import describe_features, parse_feature_set, warmup_bars

    feature_set = parse_feature_set(groups, periods)
    bars = open_bars(dataset=dataset, data=data, symbol=symbol, timeframe=timeframe, tz=tz, calendar=calendar)
    attrs = bars.attrs
    warmup = warmup_bars(feature_set, attrs["timeframe"], attrs["calendar"])  # the catalog's own warm-ups
    if len(bars) <= warmup:  # no row would hold every feature: a table of empty columns says nothing
        raise DataError(f"{len(bars):,} {attrs['timeframe']} bar(s) are too few for these features: the longest "
                        f"warm-up is {warmup:,} bars, so they need at least {warmup + 1:,}; supply a longer "
                        "history, or choose shorter --periods or fewer --groups.")
    infos = describe_features(bars, feature_set)
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
