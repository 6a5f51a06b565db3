"""`candor backtest` — replay a saved or registered model on bars it has not seen.

A thin shell over :func:`candor.backtest.replay.replay`: it parses the flags into one
:class:`~candor.backtest.BacktestConfig` (defaults from the config's ``[backtest]`` section),
resolves ``--model``, loads the bars, calls the library and prints the metrics beside
buy-and-hold and always-flat. Parse → validate → open → compute: the flags, ``--model`` and the
bars are checked before the registry is opened, and the plot, trades CSV and JSON are written
only after the backtest has succeeded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from candor.cli import options
from candor.cli.app import app, console
from candor.errors import ConfigError

if TYPE_CHECKING:  # names for annotations only; the modules load when the command runs
    from candor.config import Config
    from candor.registry.artifact import CandorModel


def _settings(config: Any, **flags: Any) -> Any:
    """Flags over the config's ``[backtest]`` section → a validated BacktestConfig (exit 3 if bad)."""
    from candor.backtest import BacktestConfig

    chosen = {name: value for name, value in flags.items() if value is not None}
    return BacktestConfig(**{**config.backtest.model_dump(), **chosen})


def _model_reference(reference: str) -> tuple[Path | None, str | None, str | None]:
    """``--model`` parsed and checked, nothing opened: an artifact directory, or a registry
    reference ``NAME@ALIAS|VERSION`` (its name and version must be ones a candor model can have)."""
    path = Path(reference).expanduser()
    if path.is_dir():
        return path, None, None
    if "@" not in reference:
        raise ConfigError(
            f"`--model` must be a model artifact directory or a registry reference such as "
            f"candor.SPX.d1@champion, SPX/d1@champion or candor.SPX.d1@3. Got {reference!r}."
        )
    from candor.registry.common import check_version_ref, resolve_name

    name, _, ref = reference.rpartition("@")
    return None, resolve_name(name), check_version_ref(ref)


def _load_model(path: Path | None, name: str | None, ref: str | None, config: Config) -> CandorModel:
    """The artifact at ``path``, or the registered version, pinned to the manifest hash recorded
    at registration; hash-verified either way."""
    if path is not None:
        from candor.registry.artifact import load_model  # lazy: the artifact loader pulls in the models

        return load_model(path)
    from candor.services import open_services  # lazy: MLflow and the store load only for a registry reference

    with open_services(config, require_schema=False) as services:
        return services.registry.load(name, ref)


@app.command("backtest")
def backtest_command(
    model: str = typer.Option(..., "--model", help="Artifact directory, or NAME@ALIAS|VERSION (candor.SPX.d1@champion)."),
    dataset: options.Dataset = None,
    data: options.DataFile = None,
    symbol: options.Symbol = None,
    timeframe: options.Timeframe = None,
    tz: options.TimeZone = None,
    calendar: options.Calendar = None,
    start: str = typer.Option(None, "--start", help="First signal bar (default: the bar after the training data)."),
    allow_overlap: bool = typer.Option(False, "--allow-overlap", help="Allow --start inside the training span (in-sample!)."),
    short: bool = typer.Option(None, "--short/--no-short", help="Short on BEARISH (default: flat)."),
    execution: str = typer.Option(None, "--execution", help="next_open or next_close (never the signal's own bar)."),
    cost_bps: float = typer.Option(None, "--cost-bps", help="Cost per unit turnover, basis points."),
    slippage_bps: float = typer.Option(None, "--slippage-bps", help="Slippage per unit turnover, basis points."),
    min_confidence: float = typer.Option(None, "--min-confidence", help="Flat when the top probability is below this."),
    size_by_confidence: bool = typer.Option(None, "--size-by-confidence/--no-size-by-confidence", help="Size positions by confidence."),
    abstain: bool = typer.Option(True, "--abstain/--no-abstain", help="Flat where a served forecast would abstain "
                                 "(conformal set of several classes at forecast.coverage, or no significant edge)."),
    plot: Path = typer.Option(None, "--plot", help="Write the equity + drawdown PNG here."),
    trades: Path = typer.Option(None, "--trades", help="Write the trade list CSV here."),
    output_json: Path = typer.Option(None, "--output-json", help="Write the metrics as JSON here."),
    config_file: Path = typer.Option(None, "--config", help="candor.toml to read (default ./candor.toml)."),
) -> None:
    """Replay a model on unseen bars: next-bar execution, costs, benchmarks, PSR/DSR.

    Exit codes: 0 ok, 1 data/model refused (e.g. overlap with training), 3 bad option.
    """
    # lazy: the library is imported when the command runs, so --help and option errors start in < 0.5 s
    from candor.backtest.replay import replay, training_span
    from candor.config import load_config
    from candor.data.sources import open_bars

    for path, flag in ((plot, "--plot"), (trades, "--trades"), (output_json, "--output-json")):
        options.check_output_file(path, flag)
    config = load_config(config_file)
    settings = _settings(config, short_on_bearish=short, execution=execution, cost_bps=cost_bps,
                         slippage_bps=slippage_bps, min_confidence=min_confidence,
                         size_by_confidence=size_by_confidence)
    artifact_dir, name, ref = _model_reference(model)
    # the bars are input: read and validated before the registry is opened
    bars = open_bars(dataset=dataset, data=data, symbol=symbol, timeframe=timeframe, tz=tz, calendar=calendar)
    loaded = _load_model(artifact_dir, name, ref, config)
    where = model if artifact_dir is None else str(artifact_dir)
    span = training_span(loaded.manifest)
    abstained: list[tuple[int, int]] = []
    result = replay(loaded, bars, settings, start=start, allow_overlap=allow_overlap, span=span,
                    abstain=_abstention(loaded, config, abstained) if abstain else None)
    summary = result.summary()
    _write_outputs(result, summary, {"model": where, "symbol": loaded.symbol, "timeframe": loaded.timeframe,
                            "abstained": abstained[0][0] if abstained else None,
                            "training_span": {"start": span.start.isoformat(), "end": span.end.isoformat(),
                                              "source": span.source}},
                   plot=plot, trades=trades, output_json=output_json)
    _render(result, summary, where, span)
    if abstained:
        console.print(f"abstained (flat) on {abstained[0][0]:,} of {abstained[0][1]:,} bars: the forecast job's rule at "
                      f"forecast.coverage = {config.forecast.coverage:g}, abstain_without_edge = "
                      f"{config.forecast.abstain_without_edge} (--no-abstain trades every call)", highlight=False)


def _abstention(model: CandorModel, config: Config, counted: list[tuple[int, int]]) -> Any:
    """The served forecasts' abstention rule (:func:`candor.ops.sets.abstaining_rows`) at the set's
    starting level 1 − forecast.coverage (a replay has no live misses to adapt it); the count of
    abstaining bars and of all bars is appended to ``counted``."""
    from candor.labels import CLASS_NAMES
    from candor.ops.sets import abstaining_rows

    def rule(proba: Any) -> Any:
        rows = abstaining_rows(proba.to_numpy(), [CLASS_NAMES[int(c)] for c in proba.columns],
                               model.manifest.report, config.forecast)
        counted.append((int(rows.sum()), len(rows)))
        return rows
    return rule


def _write_outputs(result: Any, summary: Any, about: dict[str, Any], *, plot: Path | None, trades: Path | None,
                   output_json: Path | None) -> None:
    """Plot, trades and JSON — only reached once the backtest succeeded (nothing half-written). The
    JSON's ``backtest`` is the run's :class:`candor.records.backtest.BacktestSummary` less its
    equity curve (the plot draws it)."""
    from candor.backtest import plot_equity, write_trades_csv

    if plot is not None:
        plot_equity(result, plot)
    if trades is not None:
        write_trades_csv(result, trades)
    if output_json is not None:
        from candor.outputs import write_text_atomic

        document = {**about, "backtest": summary.model_dump(mode="json", exclude={"equity_curve"})}
        write_text_atomic(output_json, json.dumps(document, indent=2, default=str), what="backtest JSON")


ROWS = (("total return", "total_return", "pct"), ("CAGR", "cagr", "pct"), ("volatility", "volatility", "pct"),
        ("Sharpe", "sharpe", "num"), ("Sortino", "sortino", "num"), ("max drawdown", "max_drawdown", "pct"),
        ("Calmar", "calmar", "num"), ("hit rate", "hit_rate", "pct"), ("trades", "n_trades", "int"),
        ("turnover / year", "turnover_per_year", "num"), ("exposure", "exposure", "pct"), ("PSR", "psr", "num"))


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    return {"pct": f"{value:.1%}", "int": f"{int(value):,}", "num": f"{value:.2f}"}[kind]


def _render(result: Any, summary: Any, where: str, span: Any) -> None:
    """Strategy beside buy-and-hold and flat on the same periods, then PSR/DSR in words."""
    columns = (summary.metrics, summary.benchmarks["buy_and_hold"], summary.benchmarks["always_flat"])
    table = Table(title=f"Replay of {where} — {summary.start[:10]} → {summary.end[:10]}, "
                        f"{summary.n_periods:,} periods, "
                        f"{result.config.execution}, {result.config.cost_bps + result.config.slippage_bps:g} bps",
                  title_justify="left")
    for name in ("metric", "strategy", "buy & hold", "flat"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    for label, key, kind in ROWS:
        table.add_row(label, *(_cell(col.get(key), kind) for col in columns))
    console.print(table)
    console.print(f"PSR {_cell(summary.psr, 'num')} (P[true Sharpe > 0]) · DSR {_cell(summary.dsr, 'num')} "
                  f"(vs the best of {summary.sharpe_inference['n_trials']} trial(s)) · training data to "
                  f"{span.end:%Y-%m-%d %H:%M} "
                  f"({span.source})", highlight=False, markup=False)
