"""`candor research` — search a grid of configurations over many series; say what survives.

A thin shell over :func:`candor.application.research.run_research`: parse the grid, load the
config, run (serially, ``--jobs`` processes or ``--dask``), print one table and one sentence.
Research registers nothing; every evaluated cell is a row of the trial ledger.
Exit codes: 0 ok, 1 a cell failed (unless ``--keep-going``), the Dask scheduler is unreachable or the
trial ledger cannot be written (both refused before any cell runs), 3 a bad option or an empty grid.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

import typer

from candor.cli import options
from candor.cli.app import EXIT_FAILED, EXIT_OK, app, console, err_console
from candor.errors import ConfigError
from candor.logs import LEVELS, configure_logging


def _items(values: list[str] | None) -> list[str]:
    """Repeated and/or comma-separated values, blanks dropped."""
    return [v.strip() for value in values or () for v in value.split(",") if v.strip()]


def _sets(values: list[str] | None) -> list[tuple[str, ...]]:
    """Each repetition of the option is one set; its comma list the set's members."""
    return [tuple(v.strip() for v in value.split(",") if v.strip()) for value in values or () if value.strip()]


def _numbers(text: str | None, flag: str, kind: type) -> list:
    if text is None:
        return []
    try:
        return [kind(v) for v in _items([text])]
    except ValueError:
        raise ConfigError(f"`{flag}` must be a comma list of {'integers' if kind is int else 'numbers'}, "
                          f"e.g. {'1,5' if kind is int else '0.001,0.002'}. Got {text!r}.") from None


@app.command("research")
def research_command(
    data: list[Path] = typer.Option(None, "--data", help="CSV or Parquet files of OHLCV bars (repeat for several)."),
    dataset: list[str] = typer.Option(None, "--dataset", help="Embedded datasets (repeat or comma-separate)."),
    symbols: list[str] = typer.Option(None, "--symbols", help="Datasets, dataset symbols (SPX) or files (repeat or comma-separate)."),
    timeframes: list[str] = typer.Option(None, "--timeframes", help="Timeframes per series, e.g. d1,h1 (coarser ones are resampled)."),
    tz: options.TimeZone = None,
    calendar: options.Calendar = None,
    source: options.Source = None,
    horizons: str = typer.Option(None, "--horizons", help="Comma list of label horizons, e.g. 1,5 (default labels.horizon)."),
    labels: str = typer.Option(None, "--labels", help="Comma list of label kinds: threshold, volscaled, binary, triple."),
    thresholds: str = typer.Option(None, "--thresholds", help="Comma list of return thresholds for threshold labels, e.g. 0.001,0.002."),
    models: list[str] = typer.Option(None, "--models", help="One member set per repetition: --models logreg --models logreg,lgbm."),
    feature_groups: list[str] = typer.Option(None, "--feature-groups", help="One feature-group set per repetition, e.g. "
                                             "--feature-groups returns,momentum --feature-groups all."),
    folds: int = typer.Option(None, "--folds", help="Walk-forward folds (default 5)."),
    n_boot: int = typer.Option(None, "--n-boot", help="Bootstrap resamples of every test (default evaluation.n_boot)."),
    seed: int = typer.Option(None, "--seed", help="Random seed (default 42)."),
    config_file: Path = typer.Option(None, "--config", help="candor.toml to read (default ./candor.toml)."),
    jobs: int = typer.Option(1, "--jobs", min=1, help="Series searched in parallel processes (threads pinned per process)."),
    dask: str = typer.Option(None, "--dask", help="Dask scheduler address, e.g. tcp://host:8786."),
    keep_going: bool = typer.Option(False, "--keep-going", help="Exit 0 even if some cells failed."),
    output_json: Path = typer.Option(None, "--output-json", help="Write the cells and the answer as JSON here."),
    oos_out: Path = typer.Option(None, "--oos-out", help="Write every cell's per-bar out-of-sample probabilities here "
                                 "as Parquet (series, cell, ts, fold, member and ensemble probabilities, label, t1)."),
    cv: str = typer.Option(None, "--cv", help="walk_forward (default) or cpcv: also score each cell's combinatorial "
                           "purged CV paths (split.cpcv_groups, split.cpcv_test_groups), as candor train --cv does."),
    log_level: str = typer.Option("WARNING", "--log-level", help="DEBUG, INFO, WARNING or ERROR."),
) -> int:
    """Search horizons × labels × thresholds × member sets × feature groups over many series, each cell
    scored like `candor train` (purged walk-forward, baselines, paired block-bootstrap test); then judge
    the search: Romano-Wolf/SPA within a series, Šidák for the target's earlier ledger trials,
    Benjamini-Hochberg across series, PBO by CSCV. Registers nothing; every cell is recorded in the
    trial ledger (checked before the search: an unusable one is refused before any cell runs).

    Exit codes: 0 ok, 1 a cell failed (see --keep-going) or the ledger is unusable, 3 bad options or an
    empty grid.
    """
    if log_level.upper() not in LEVELS:
        raise typer.BadParameter(f"must be one of {', '.join(LEVELS)}. Got {log_level!r}.", param_hint="--log-level")
    options.check_output_file(output_json, "--output-json")
    options.check_output_file(oos_out, "--oos-out")
    if source is not None and (data or dataset):
        raise typer.BadParameter("--source db reads stored series named by --symbols and --timeframes; drop "
                                 "--data / --dataset.", param_hint="--source")
    if source not in (None, "db"):
        raise typer.BadParameter(f"must be db (the operational database). Got {source!r}.", param_hint="--source")
    configure_logging(log_level)
    from candor.config import load_config  # lazy: the library loads when the command runs

    overrides: dict[str, Any] = {}
    if folds is not None:
        overrides["split"] = {"folds": folds}
    if n_boot is not None:
        overrides["evaluation"] = {"n_boot": n_boot}
    if cv is not None:
        overrides["split"] = {**overrides.get("split", {}), "cv": cv}
    if seed is not None:
        overrides["seed"] = seed
    config = load_config(config_file, overrides)
    names = [str(p) for p in data or ()] + _items(dataset) + _items(symbols)
    from candor.application.research import ResearchGrid, parse_labels
    from candor.application.universe import resolve_series, stored_series

    if source == "db":
        series = stored_series(_items(symbols), _items(timeframes))
    else:
        series = resolve_series(names, _items(timeframes), tz=tz, calendar=calendar) if names else []
    grid = ResearchGrid(
        series=tuple(series),
        horizons=tuple(_numbers(horizons, "--horizons", int)) if horizons is not None else (config.labels.horizon,),
        labels=parse_labels(_items([labels])) if labels is not None else (config.labels.kind,),
        thresholds=tuple(_numbers(thresholds, "--thresholds", float)) if thresholds is not None
        else (config.labels.threshold,),
        models=tuple(_sets(models)) if models is not None else (config.models.models,),
        feature_groups=tuple(_sets(feature_groups)) if feature_groups is not None else (config.features.groups,),
    )
    report = _run_with_progress(grid, config, jobs=jobs, dask=dask, keep_oos=oos_out is not None)
    if oos_out is not None:
        from candor.training.run import write_oos_table

        write_oos_table(report.oos_rows, oos_out)
    if output_json is not None:
        from candor.outputs import write_text_atomic
        from candor.records.values import plain

        write_text_atomic(output_json, json.dumps(plain(report.document()), indent=2, allow_nan=False),
                          what="research report (the search itself finished)")
    _render(report)
    return EXIT_FAILED if report.n_failed and not keep_going else EXIT_OK


def _run_with_progress(grid, config, *, jobs: int, dask: str | None, keep_oos: bool):
    """A progress bar on a terminal; one plain line per finished series when piped."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from candor.application.research import run_research

    if not err_console.is_terminal:
        def line(p) -> None:
            if p.done_series:
                print(f"research: {p.done_series}/{p.total_series} series, {p.done_cells}/{p.total_cells} cells"
                      f" ({p.failed_cells} failed) — {p.last} done", file=sys.stderr, flush=True)

        return run_research(grid, config, jobs=jobs, dask=dask, on_progress=line, actor=getpass.getuser(),
                            keep_oos=keep_oos)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} cells"),
                  TimeElapsedColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("research", total=None)

        def show(p) -> None:
            bar.update(task, total=p.total_cells, completed=p.done_cells,
                       description=f"research: {p.done_series}/{p.total_series} series · {p.failed_cells} failed")

        return run_research(grid, config, jobs=jobs, dask=dask, on_progress=show, actor=getpass.getuser(),
                            keep_oos=keep_oos)


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _prior(report) -> str:
    """The targets' earlier ledger trials counted in the adjusted p (``n_prior_trials``): one count, or a range."""
    counts = sorted({r.n_prior_trials or 0 for r in report.rows if r.status == "evaluated"}) or [0]
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def _render(report) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"Research cells (α = {report.alpha:g}; adjusted: Romano-Wolf/SPA within a series, "
                        f"Šidák for {_prior(report)} earlier ledger trial(s) per target, "
                        f"Benjamini-Hochberg across {report.n_series} series)")
    for name in ("cell", "rows", "lift", "95% CI", "raw p", "adjusted p", "survives"):
        table.add_column(name, overflow="fold")
    for r in report.rows:
        if r.status != "evaluated":
            table.add_row(escape(r.cell), "—", "—", "—", "—", "—", f"failed: {escape(r.reason or '')}")
            continue
        table.add_row(escape(r.cell), str(r.n_rows), _num(r.lift, "+.4f"),
                      f"[{_num(r.lift_ci_low, '+.4f')}, {_num(r.lift_ci_high, '+.4f')}]",
                      _num(r.p_value, ".4f"), _num(r.p_adjusted, ".4f"), "yes" if r.survives else "no")
    console.print(table)
    cpcv = [r for r in report.rows if r.cpcv is not None]
    if cpcv:
        from candor.training.cpcv import describe

        for r in cpcv:
            console.print(f"{escape(r.cell)}: {describe(r.cpcv)}", highlight=False)
    console.print(report.sentence + ".", highlight=False)
    if report.trials_recorded:
        console.print(f"{report.trials_recorded} cell(s) recorded in the trial ledger (candor ledger).", highlight=False)
