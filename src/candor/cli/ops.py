"""`candor forecast`, `candor drift`, `candor schedule run|list` — thin shells over the ops library."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from candor.cli.app import EXIT_FAILED, EXIT_OK, app, console
from candor.logs import LEVELS, configure_logging

# lazy: the config, the ops library, the services and the bars load inside the commands when they
# run, so --help and option errors start in < 0.5 s
if TYPE_CHECKING:  # names for annotations only
    from candor.config import Config
    from candor.ops.context import OpsContext

schedule_app = typer.Typer(help="Run or list the scheduled jobs (retrain, update_weights, fetch, forecast, drift).",
                           no_args_is_help=True)
app.add_typer(schedule_app, name="schedule")

_CONFIG = typer.Option(None, "--config", help="candor.toml to read (default ./candor.toml).")
_LOG_JSON = typer.Option(False, "--log-json", help="Log one JSON object per line (also: logging.json_lines).")
_LOG_LEVEL = typer.Option(None, "--log-level", help="DEBUG, INFO, WARNING or ERROR (default: logging.level).")


def _split(text: str | None) -> list[str] | None:
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def _setup(config_file: Path | None, log_json: bool, log_level: str | None,
           overrides: dict[str, Any] | None = None) -> Config:
    if log_level is not None and log_level.upper() not in LEVELS:
        raise typer.BadParameter(f"must be one of {', '.join(LEVELS)}. Got {log_level!r}.", param_hint="--log-level")
    from candor.config import load_config

    config = load_config(config_file, overrides)
    configure_logging(log_level or config.logging.level, json_lines=log_json or config.logging.json_lines)
    return config


def _context(config: Config, dataset: str | None = None) -> OpsContext:
    """Services (store checked: unreachable → one line, exit 1) and the bars source."""
    from candor.data.sources import open_bars
    from candor.ops.context import OpsContext
    from candor.services import open_services

    loader = None
    if dataset is not None:
        loader = lambda symbol, timeframe: open_bars(dataset=dataset)  # noqa: E731
    return OpsContext(open_services(config), loader)


def _series_options(all_series: bool, symbols: str | None, timeframes: str | None,
                    dataset: str | None) -> tuple[list[str] | None, list[str] | None]:
    if dataset is not None:
        from candor.data.sources import open_bars

        bars = open_bars(dataset=dataset)
        return [str(bars.attrs["symbol"])], [str(bars.attrs["timeframe"])]
    if all_series and symbols:
        raise typer.BadParameter("pass --all or --symbols, not both.", param_hint="--all")
    symbol_list, timeframe_list = (None if all_series else _split(symbols)), _split(timeframes)
    from candor.ops.context import check_series_request

    check_series_request(symbol_list, timeframe_list)
    return symbol_list, timeframe_list


@app.command("forecast")
def forecast_command(
    all_series: bool = typer.Option(False, "--all", help="Every series in the universe (default)."),
    symbols: str = typer.Option(None, "--symbols", help="Comma list of symbols (needs --timeframes)."),
    timeframes: str = typer.Option(None, "--timeframes", help="Comma list of timeframes, e.g. d1,h1."),
    horizons: str = typer.Option(None, "--horizons", help="Comma list of horizons (default forecast.horizons)."),
    dataset: str = typer.Option(None, "--dataset", help="Forecast an embedded dataset instead of stored bars."),
    config_file: Path = _CONFIG, log_json: bool = _LOG_JSON, log_level: str = _LOG_LEVEL,
) -> int:
    """Forecast every series × horizon with a champion and store the rows (idempotent).

    Exit codes: 0 ok (skipped series are listed), 1 every series failed or the database is down,
    3 configuration error.
    """
    overrides = {"forecast": {"horizons": _split(horizons)}} if horizons else None
    config = _setup(config_file, log_json, log_level, overrides)
    symbol_list, timeframe_list = _series_options(all_series, symbols, timeframes, dataset)
    ctx = _context(config, dataset)
    from candor.ops.forecast import run_forecasts

    with ctx.services:
        report = run_forecasts(ctx.services, symbols=symbol_list, timeframes=timeframe_list,
                               bars_loader=ctx.bars_loader)
    table = Table("series", "h", "bar", "direction", "confidence", "model", "note", title="forecasts")
    for item in report.forecasts:
        f = item.forecast
        members = item.sets.prediction_set
        shown = item.direction if members is None else f"{item.direction} {{{', '.join(members)}}}"
        note = "; ".join(n for n in (item.flag, item.sets.abstain_reason, item.sets.note) if n)
        table.add_row(f"{f.symbol}/{f.timeframe}", str(f.horizon), str(f.bar_ts), shown,
                      f"{f.confidence:.1%}", f"{item.model_name} v{item.model_version}", note)
    for skip in report.skipped:
        table.add_row(f"{skip.symbol}/{skip.timeframe}", str(skip.horizon), "", "skipped", "", "", skip.reason)
    console.print(table)
    for symbol, agreed in report.consensus.items():
        console.print(f"consensus {symbol}: {agreed.direction} (agreement {agreed.agreement:.0%}, "
                      f"score {agreed.score:+.2f}, {agreed.timeframes} timeframe vote(s) from {len(agreed.votes)} "
                      f"forecast(s); {agreed.method})", highlight=False, soft_wrap=True)
    console.print(f"{report.written} new row(s), {len(report.skipped)} skipped, {report.seconds:.2f}s", highlight=False)
    return EXIT_FAILED if report.skipped and not report.forecasts else EXIT_OK


@app.command("drift")
def drift_command(
    symbols: str = typer.Option(None, "--symbols", help="Comma list of symbols (needs --timeframes)."),
    timeframes: str = typer.Option(None, "--timeframes", help="Comma list of timeframes."),
    config_file: Path = _CONFIG, log_json: bool = _LOG_JSON, log_level: str = _LOG_LEVEL,
) -> int:
    """Resolve late labels, judge realised accuracy against the baseline, store rows, alert, act."""
    config = _setup(config_file, log_json, log_level)
    from candor.ops.context import check_series_request
    from candor.ops.drift import run_drift
    from candor.services import open_services

    symbol_list, timeframe_list = _split(symbols), _split(timeframes)
    check_series_request(symbol_list, timeframe_list or config.forecast.timeframes)  # before the store is opened
    with open_services(config) as services:
        report = run_drift(services, symbols=symbol_list, timeframes=timeframe_list)
    table = Table("series", "h", "status", "n", "accuracy", "baseline", "CUSUM / alarm at", "max PSI", "ECE",
                  title="drift")
    for r in report.results:
        table.add_row(f"{r.symbol}/{r.timeframe}", str(r.horizon), r.status, str(r.n), _pct(r.accuracy),
                      _pct(r.baseline), _cusum(r.sequential), _num(r.max_feature_psi), _num(r.calibration_error))
    console.print(table)
    for shadow in report.shadows:
        console.print(shadow.summary(), highlight=False, markup=False)
    for action in report.actions:
        console.print(f"emergency {action.action} {action.symbol}/{action.timeframe}: "
                      f"{'ok' if action.ok else 'FAILED'} — {action.detail}", highlight=False)
    for symbol, timeframe, reason in report.skipped:
        console.print(f"skipped {symbol}/{timeframe}: {reason}", highlight=False)
    console.print(f"{report.resolved} forecast(s) resolved, {len(report.alerts)} alert(s)", highlight=False)
    return EXIT_OK


def _cusum(reading: dict | None) -> str:
    """The sequential test's statistic beside its drift threshold, e.g. "1.20 / 4.05"."""
    return "" if not reading else f"{reading['statistic']:.2f} / {reading['threshold']:.2f}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


@schedule_app.command("list")
def schedule_list(config_file: Path = _CONFIG) -> int:
    """Show each scheduled job, its cron line and when it runs next."""
    from candor.config import load_config
    from candor.ops.jobs import next_runs

    config = load_config(config_file)
    table = Table("job", "cron", "next run", title=f"schedule ({config.schedule.timezone})")
    for run in next_runs(config):
        table.add_row(run.job, run.cron, run.next_run.isoformat() if run.next_run else "never")
    console.print(table)
    return EXIT_OK


@schedule_app.command("run")
def schedule_run(
    once: str = typer.Option(None, "--once", help="Run this job now and exit: retrain, update_weights, fetch, forecast, drift."),
    config_file: Path = _CONFIG, log_json: bool = _LOG_JSON, log_level: str = _LOG_LEVEL,
) -> int:
    """Run the blocking scheduler (Ctrl-C stops it), or one job now with --once."""
    config = _setup(config_file, log_json, log_level)
    from candor.ops.jobs import build_scheduler, check_job, outcome_lines, run_job

    if once is not None:
        check_job(once)  # before the store is opened
    ctx = _context(config)
    with ctx.services:
        if once is not None:
            result = run_job(once, ctx)
            for line in outcome_lines(once, result):  # what the job did, not only "started / finished"
                console.print(line, markup=False, highlight=False, soft_wrap=True)
            return EXIT_OK
        scheduler = build_scheduler(ctx)
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            scheduler.shutdown(wait=False)
    return EXIT_OK
