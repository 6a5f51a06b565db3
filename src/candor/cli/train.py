"""`candor train` — walk-forward train one series and print the honest report."""

from __future__ import annotations

import getpass
import json
import os
import threading
import warnings
from contextlib import nullcontext
from pathlib import Path
from pkgutil import resolve_name
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from candor.cli import options
from candor.cli.app import EXIT_FAILED, EXIT_GATES, EXIT_OK, app, console, err_console
from candor.logs import LEVELS, configure_logging

if TYPE_CHECKING:  # names for annotations only; the modules load when the command runs
    from candor.config import Config
    from candor.training.device import DeviceChoice


def _overrides(**options: Any) -> dict[str, Any]:
    """CLI flags → nested config overrides; flags left at None keep the configured value."""
    layout = {
        "labels": ("label", "horizon", "threshold"),
        "split": ("folds", "purge", "embargo", "holdout", "cv"),
        "models": ("models", "ensemble", "fold_jobs"),
        "registry": ("min_accuracy", "require_edge"),
        "tune": ("optimize", "trials", "timeout", "metric", "study_storage", "reuse_saved"),
        "universe": ("datasets", "timeframes", "jobs", "dask", "keep_going"),
    }
    rename = {"label": "kind", "optimize": "enabled"}
    out: dict[str, Any] = {}
    for section, keys in layout.items():
        values = {rename.get(k, k): options[k] for k in keys if options.get(k) is not None}
        if values:
            out[section] = values
    for key in ("seed", "device"):
        if options.get(key) is not None:
            out[key] = options[key]
    return out


def _names(values: list[str] | None) -> tuple[str, ...] | None:
    """Repeated and/or comma-separated option values (``--symbols SPX,AAPL --symbols IXIC``)."""
    if not values:
        return None
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


@app.command("train")
def train_command(
    dataset: options.Dataset = None,
    data: options.DataFile = None,
    symbol: options.Symbol = None,
    timeframe: options.Timeframe = None,
    tz: options.TimeZone = None,
    calendar: options.Calendar = None,
    source: options.Source = None,
    config_file: Path = typer.Option(None, "--config", help="candor.toml to read (default ./candor.toml)."),
    models: str = typer.Option(None, "--models", help="Comma list of rf,gb,gb_classic,xgb,lgbm,logreg,arima_garch (lgb = lgbm)."),
    model_type: str = typer.Option(None, "--model-type", help="One model, the seed script's spelling: xgb, rf or lgb "
                                   "(= --models xgb / rf / lgbm); --models is the general form."),
    period: options.Period = None,
    ensemble: str = typer.Option(None, "--ensemble", help="Member weighting: ridge, stacking or equal."),
    label: str = typer.Option(None, "--label", help="threshold, volscaled, binary or triple."),
    horizon: int = typer.Option(None, "--horizon", help="Bars ahead the label looks (default 5)."),
    threshold: float = typer.Option(None, "--threshold", help="Return threshold, 0.002 = ±0.2%."),
    folds: int = typer.Option(None, "--folds", help="Walk-forward folds (default 5)."),
    purge: int = typer.Option(None, "--purge", help="Bars purged before each test fold (>= horizon)."),
    embargo: int = typer.Option(None, "--embargo", help="Bars embargoed after each test fold."),
    holdout: float = typer.Option(None, "--holdout", help="Newest share of rows kept as final holdout."),
    fold_jobs: int = typer.Option(None, "--fold-jobs", help="Outer folds fitted in parallel processes (default: one per core)."),
    min_accuracy: float = typer.Option(None, "--min-accuracy", help="Gate: minimum out-of-sample accuracy (default registry.min_accuracy, 0.60)."),
    require_edge: bool = typer.Option(None, "--require-edge/--no-require-edge", help="Gate: a significant edge over the best baseline (default registry.require_edge, on)."),
    all_series: bool = typer.Option(False, "--all", help="Train every embedded dataset; one summary table."),
    keep_going: bool = typer.Option(False, "--keep-going", help="With --all: exit 0 even if some series failed."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Train and report; write no artifact, no MLflow run."),
    promote: bool = typer.Option(False, "--promote", help="Make this version the champion if the registry gates pass."),
    force: bool = typer.Option(False, "--force", help="Promote even if the current champion is better: skips only the "
                               "champion comparison (audited as force_promote); the gates and hash checks still apply."),
    output_json: Path = typer.Option(None, "--output-json", help="Write the report as JSON here."),
    oos_out: Path = typer.Option(None, "--oos-out", help="Write the per-bar out-of-sample probabilities here as Parquet "
                                 "(ts, fold, each member's and the ensemble's class probabilities, label, t1)."),
    cv: str = typer.Option(None, "--cv", help="walk_forward (default) or cpcv: also score combinatorial purged CV "
                           "paths (split.cpcv_groups, split.cpcv_test_groups) and report their accuracy distribution."),
    out: Path = typer.Option(None, "--out", help="Directory for the model artifact (default <home>/models)."),
    seed: int = typer.Option(None, "--seed", help="Random seed (default 42)."),
    log_level: str = typer.Option("WARNING", "--log-level", help="DEBUG, INFO, WARNING or ERROR."),
    log_json: bool = typer.Option(False, "--log-json", help="Log one JSON object per line; no progress bar."),
    optimize: bool = typer.Option(None, "--optimize", help="Tune every member with Optuna inside each training fold (nested); saves best_hyperparameters."),
    trials: int = typer.Option(None, "--trials", help="With --optimize: trials per study (one study per member and fold; default 30)."),
    timeout: float = typer.Option(None, "--timeout", help="With --optimize: seconds per study."),
    metric: str = typer.Option(None, "--metric", help="With --optimize: f1, accuracy or log_loss (default f1)."),
    study_storage: str = typer.Option(None, "--study-storage", help="Optuna RDB URL (postgresql+psycopg://…) so tune-workers can join the studies."),
    ignore_saved_params: bool = typer.Option(False, "--ignore-saved-params", help="Train with the configured parameters, not those an earlier --optimize saved."),
    reuse_params: bool = typer.Option(False, "--reuse-params", help="Train with the parameters an earlier --optimize saved, and exit 1 if they cannot be used (tuned on this run's test rows). Without it they are used when valid, else ignored with a warning."),
    symbols: list[str] = typer.Option(None, "--symbols", "--datasets", help="Universe: datasets, symbols or files (repeat or comma-separate)."),
    timeframes: list[str] = typer.Option(None, "--timeframes", help="Universe: timeframes, e.g. d1,h1 (coarser ones are resampled)."),
    jobs: int = typer.Option(None, "--jobs", help="Universe: series trained in parallel processes (threads pinned per process)."),
    dask: str = typer.Option(None, "--dask", help="Universe: Dask scheduler address, e.g. tcp://host:8786."),
    device: str = typer.Option(None, "--device", help="cpu or cuda (XGBoost on the GPU when usable, else CPU with a warning)."),
) -> int:
    """Train with purged walk-forward; report accuracy beside baselines with a 95% CI and a verdict.

    Exit codes: 0 ok, 1 training failed, 2 gates not met, 3 configuration error.
    """
    if log_level.upper() not in LEVELS:
        raise typer.BadParameter(f"must be one of {', '.join(LEVELS)}. Got {log_level!r}.", param_hint="--log-level")
    _refuse_conflicts(dry_run=dry_run, promote=promote, force=force, all_series=all_series, data=data,
                      dataset=dataset, symbols=symbols)
    if reuse_params and ignore_saved_params:
        raise typer.BadParameter("--reuse-params asks for the saved parameters and --ignore-saved-params refuses "
                                 "them; drop one of them.", param_hint="--reuse-params")
    _refuse_single_series_flags(force=force, period=period, universe=bool(all_series or symbols or timeframes))
    if oos_out is not None and (all_series or symbols or timeframes):
        raise typer.BadParameter("applies to one series (--dataset / --data); the universe trains without it.",
                                 param_hint="--oos-out")
    # lazy: the library is imported when the command runs, so --help and option errors start in < 0.5 s
    from candor.config import load_config
    from candor.data.bars import check_period

    check_period(period)
    _check_source(source, symbol=symbol, timeframe=timeframe, others={
        "--data": data, "--dataset": dataset, "--tz": tz, "--calendar": calendar, "--all": all_series or None,
        "--symbols": symbols or None, "--timeframes": timeframes or None})
    options.check_output_file(output_json, "--output-json")
    options.check_output_file(oos_out, "--oos-out")
    options.check_output_folder(None if dry_run else out, "--out")
    configure_logging(log_level, json_lines=log_json)
    model_list = _model_list(models, model_type)
    fold_jobs = fold_jobs if fold_jobs is not None else (os.cpu_count() or 1)
    config = load_config(config_file, _overrides(
        label=label, horizon=horizon, threshold=threshold, folds=folds, purge=purge, embargo=embargo,
        holdout=holdout, cv=cv, models=model_list, ensemble=ensemble, fold_jobs=fold_jobs,
        min_accuracy=min_accuracy, require_edge=require_edge, seed=seed,
        optimize=optimize, trials=trials, timeout=timeout, metric=metric, study_storage=study_storage,
        reuse_saved="never" if ignore_saved_params else ("require" if reuse_params else None),
        datasets=_names(symbols) or ((dataset,) if dataset and timeframes else None),
        timeframes=_names(timeframes) or ((timeframe,) if timeframe and (all_series or symbols) else None),
        jobs=jobs, dask=dask, keep_going=keep_going or None, device=device,
    ))
    if config.tracking.uses_wandb:  # a missing extra refuses first: before bars are read or fold processes start
        from candor.extras import import_wandb

        import_wandb()
    device_choice = _probe_device(config, quiet=log_json)
    if all_series or symbols or timeframes:
        # every bar option applies to every series of the universe, as to one series
        return _train_all(config, out=out, dry_run=dry_run, quiet=log_json, device=device_choice,
                          bar_options={"symbol": symbol, "tz": tz, "calendar": calendar})
    # lazy: the training stack (scikit-learn, MLflow, the registry) loads only when one series trains
    from candor.data.sources import open_bars
    from candor.application.train import plan_training
    from candor.services import open_services

    if source == "db":
        from candor.ops.context import stored_bars

        bars = stored_bars(config, symbol, timeframe)
    else:
        bars = open_bars(dataset=dataset, data=data, symbol=symbol, timeframe=timeframe, tz=tz, calendar=calendar)
    # parse → validate → open → compute: the period window and the derived run config are checked
    # before the services are opened (and passed down); a dry run opens none
    plan = plan_training(bars, config, dry_run=dry_run, force=force, period=period, device=device_choice)
    services = nullcontext(None) if dry_run else open_services(plan.run.config, migrate=True)
    warming = _start_fold_workers(config.models.fold_jobs)
    try:
        outcome = _train_one(bars, config, services, plan, out=out, dry_run=dry_run, promote=promote, force=force,
                             device=device_choice, period=period, quiet=log_json)
    finally:
        # A run refused mid-way (a one-line error) must not exit while the warm-up thread is still
        # spawning loky workers: the half-started workers then die on a closed pipe and print an
        # EOFError traceback under the one line. Waiting costs at most the workers' import time.
        if warming is not None:
            warming.join()
    return _report_training(outcome, out=out, oos_out=oos_out, output_json=output_json, log_json=log_json,
                            promote=promote, force=force)


def _train_one(bars: Any, config: Config, services: Any, plan: Any, *, out: Path | None, dry_run: bool,
               promote: bool, force: bool, device: DeviceChoice, period: Any, quiet: bool) -> Any:
    from candor.application.train import run_training

    with services as live, Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                    console=err_console, disable=quiet, transient=True) as bar:
        task = bar.add_task(f"training {bars.attrs.get('symbol')}/{bars.attrs.get('timeframe')}",
                            total=config.split.folds + 1)
        return run_training(bars, config, out=out, dry_run=dry_run, promote=promote, force=force,
                            actor=getpass.getuser(), device=device, period=period, services=live, plan=plan,
                            reason="candor train --force (champion comparison skipped)" if force
                            else "candor train --promote",
                            progress=lambda msg: bar.update(task, advance=1 if "fold" in msg or "holdout" in msg else 0))


def _report_training(outcome: Any, *, out: Path | None, oos_out: Path | None, output_json: Path | None,
                     log_json: bool, promote: bool, force: bool) -> int:
    from candor.cli.render import render_training

    document = _document(outcome)
    if oos_out is not None:
        from candor.training.run import write_oos_table

        write_oos_table(outcome.result.oos_rows, oos_out)
    if output_json is not None:
        from candor.outputs import write_text_atomic
        from candor.records.values import plain  # NaN → null: JSON every parser reads

        write_text_atomic(output_json, json.dumps(plain(document), indent=2, allow_nan=False),
                          what="report (the training itself finished)")
    if not log_json:
        render_training(console, outcome)
        if outcome.result.cpcv is not None:
            from candor.training.cpcv import describe

            console.print(describe(outcome.result.cpcv), highlight=False)
    else:
        console.print_json(json.dumps({"verdict": document["oos"]["verdict"], "artifact": document["artifact"],
                                       "gates": document["gates"]}, default=str))
    promotion_failed = (promote or force) and outcome.registered is not None and not outcome.registered.promoted
    return EXIT_GATES if outcome.gate_failures or promotion_failed else EXIT_OK


#: The seed train script's ``--model-type`` names that differ from candor's member names.
MODEL_ALIASES = {"lgb": "lgbm"}
SEED_MODEL_TYPES = ("xgb", "rf", "lgb")


def _model_list(models: str | None, model_type: str | None) -> tuple[str, ...] | None:
    """``--models`` (comma list, ``lgb`` read as ``lgbm``) or ``--model-type`` (one seed name), never both."""
    if model_type is not None:
        if model_type not in SEED_MODEL_TYPES:
            raise typer.BadParameter(f"must be one of {', '.join(SEED_MODEL_TYPES)} (use --models for others). "
                                     f"Got {model_type!r}.", param_hint="--model-type")
        if models is not None:
            raise typer.BadParameter("--model-type names one model and --models a list; give only one of them.",
                                     param_hint="--model-type")
        return (MODEL_ALIASES.get(model_type, model_type),)
    if models is None:
        return None
    names = tuple(MODEL_ALIASES.get(m.strip(), m.strip()) for m in models.split(",") if m.strip())
    if not names:
        raise typer.BadParameter("name at least one model, e.g. --models lgbm,logreg.", param_hint="--models")
    return names


def _refuse_single_series_flags(*, force: bool, period: str | None, universe: bool) -> None:
    """--force and --period act on one series' training; the universe runner takes neither."""
    flag = "--force" if force else "--period" if period is not None else None
    if universe and flag:
        raise typer.BadParameter("applies to one series (--dataset / --data); the universe (--all, --symbols, "
                                 "--timeframes) trains without it.", param_hint=flag)


def _refuse_conflicts(*, dry_run: bool, promote: bool, force: bool, all_series: bool, data: Path | None, dataset: str | None,
                      symbols: list[str] | None) -> None:
    """Flags that cannot both hold: refused (exit 3) before anything runs, never one silently ignored."""
    if dry_run and force:
        raise typer.BadParameter("--force promotes what it trains, and --dry-run writes nothing; drop one of them.",
                                 param_hint="--force")
    if dry_run and promote:
        raise typer.BadParameter("--dry-run writes nothing, so there is nothing to --promote; drop one of them.",
                                 param_hint="--promote")
    if (all_series or symbols) and (data is not None or dataset is not None):
        raise typer.BadParameter("--all / --symbols train the universe; name a file or dataset in --symbols "
                                 "(e.g. --symbols bars.csv) instead of --data / --dataset.", param_hint="--all")


def _check_source(source: str | None, *, symbol: str | None, timeframe: str | None,
                  others: dict[str, object]) -> None:
    """``--source db`` names one stored series by --symbol and --timeframe, and nothing else."""
    if source is None:
        return
    if source != "db":
        raise typer.BadParameter(f"must be db (the operational database). Got {source!r}.", param_hint="--source")
    given = [flag for flag, value in others.items() if value is not None]
    if given:
        raise typer.BadParameter(f"--source db reads one stored series; drop {', '.join(given)}.",
                                 param_hint="--source")
    if not symbol or not timeframe:
        raise typer.BadParameter("--source db needs --symbol and --timeframe of a stored series "
                                 "(e.g. --symbol BTC-USDT --timeframe h1).", param_hint="--source")


#: The function every walk-forward fold runs; resolving it in a worker imports what a fold needs.
FOLD_TASK = "candor.training.stacking:fit_members"


def _start_fold_workers(fold_jobs: int) -> threading.Thread | None:
    """Start the fold processes in the background while this process opens the stores and builds
    the features. A fresh worker spends seconds importing scikit-learn, XGBoost and LightGBM
    before its first fold; started here, that happens beside this process's own work instead of in
    front of the walk-forward. joblib keeps one reusable pool, so the walk-forward's ``Parallel``
    (same worker count) picks up these workers. Nothing is trained or changed by it."""
    if fold_jobs < 2:
        return None
    from joblib import Parallel, delayed  # lazy: joblib loads when folds run, not at start-up

    def warm() -> None:
        Parallel(n_jobs=fold_jobs)(delayed(resolve_name)(FOLD_TASK) for _ in range(fold_jobs))

    thread = threading.Thread(target=warm, name="candor-fold-workers", daemon=True)
    thread.start()
    return thread


def _probe_device(config: Config, *, quiet: bool) -> DeviceChoice:
    """Probe the device once (CUDA or a one-line warning and CPU); Optuna logs through candor's
    handlers at --log-level when tuning (candor.logs.adopt_optuna)."""
    # lazy: XGBoost (the device probe) and Optuna load when the command runs, not at start-up
    from candor.training.device import resolve_device

    if config.tune.enabled:
        import optuna  # noqa: F401  (imported here so its handler is replaced before any study)

        from candor.logs import adopt_optuna

        adopt_optuna()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        choice = resolve_device(config.device)
    if choice.fell_back and not quiet:
        # escaped: Rich would read "[gpu]" in "pip install 'candor[gpu]'" as a tag and print "candor"
        err_console.print(f"[yellow]warning:[/] --device cuda: {escape(choice.reason)}; training on the CPU.",
                          highlight=False, soft_wrap=True)
    return choice


def _train_all(config: Config, *, out: Path | None, dry_run: bool, quiet: bool, device: DeviceChoice,
               bar_options: dict[str, str | None] | None = None) -> int:
    """Every series of the universe (processes or Dask), one progress display, one summary table."""
    from candor.cli.render import render_universe
    from candor.application.universe import resolve_series, train_universe

    specs = resolve_series(config.universe.datasets, config.universe.timeframes, **(bar_options or {}))
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=err_console, disable=quiet, transient=True) as bar:
        task = bar.add_task("universe", total=len(specs))

        def show(p) -> None:
            bar.update(task, completed=p.done, description=f"universe: {p.done - p.failed} done · "
                       f"{p.running} running · {p.failed} failed")

        rows = train_universe(specs, config, out=out, dry_run=dry_run, on_progress=show, device=device)
    if quiet:
        from candor.records.values import plain

        console.print_json(json.dumps([plain(row.__dict__) for row in rows], allow_nan=False))
    else:
        render_universe(console, rows)
    failed = any(row.status == "failed" for row in rows)
    return EXIT_FAILED if failed and not config.universe.keep_going else EXIT_OK


def _document(outcome) -> dict[str, Any]:
    document = outcome.result.report.model_dump(mode="json")  # the report the manifest, MLflow and training_runs hold
    document["artifact"] = str(outcome.artifact) if outcome.artifact else None
    document["gates"] = {"passed": outcome.passed, "failures": outcome.gate_failures}
    if getattr(outcome.result, "cpcv", None) is not None:
        document["cpcv"] = outcome.result.cpcv
    registered = outcome.registered
    document["registry"] = None if registered is None else {
        "name": registered.name, "version": registered.version, "status": registered.status,
        "gate_reasons": list(registered.gate_reasons), "promoted": registered.promoted,
        "note": registered.note, "mlflow_run_id": registered.run_id,
    }
    return document
