"""`candor tune-worker` — add trials to a shared Optuna study; run it on as many machines as you like."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from candor.cli import options
from candor.cli.app import EXIT_OK, app, console


@app.command("tune-worker")
def tune_worker_command(
    study_storage: str = typer.Option(..., "--study-storage", help="Optuna RDB URL shared by all workers (postgresql+psycopg://…)."),
    study: str = typer.Option(None, "--study", help="Study name (default: the one `candor train --optimize` uses for this series and model)."),
    dataset: options.Dataset = None,
    data: options.DataFile = None,
    symbol: options.Symbol = None,
    timeframe: options.Timeframe = None,
    tz: options.TimeZone = None,
    calendar: options.Calendar = None,
    model: str = typer.Option("lgbm", "--model", help="Model to tune: rf, gb, gb_classic, xgb, lgbm, logreg or arima_garch."),
    trials: int = typer.Option(20, "--trials", help="Trials this worker adds to the study."),
    timeout: float = typer.Option(None, "--timeout", help="Stop starting new trials after this many seconds."),
    metric: str = typer.Option(None, "--metric", help="f1, accuracy or log_loss (default f1)."),
    seed: int = typer.Option(None, "--seed", help="Sampler seed (default: random per worker)."),
    wait_for: int = typer.Option(None, "--wait-for", help="Then wait until the study holds this many finished trials."),
    config_file: Path = typer.Option(None, "--config", help="candor.toml to read (default ./candor.toml)."),
) -> int:
    """Run trials of one study in an Optuna RDB storage; print the study's best trial as JSON.

    Exit codes: 0 ok, 1 storage unreachable or training failed, 3 configuration error.
    """
    # lazy: the library is imported when the command runs, so --help and option errors start in < 0.5 s
    import optuna

    from candor.config import load_config
    from candor.data.sources import open_bars
    from candor.training.study_storage import open_storage
    from candor.training.tuning import tune_worker

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    overrides = {"tune": {"trials": trials, **({"metric": metric} if metric else {})}}
    config = load_config(config_file, overrides)
    # parse → validate → open: the bars are read and checked before the storage (whose first use
    # creates Optuna's tables) is opened; an unreachable storage is one line, exit 1, before any trial
    bars = open_bars(dataset=dataset, data=data, symbol=symbol, timeframe=timeframe, tz=tz, calendar=calendar)
    storage = open_storage(study_storage)
    result = tune_worker(bars, config, model, trials=trials, storage=storage, study_name=study,
                         timeout=timeout, random_state=seed, wait_for=wait_for)
    console.print_json(json.dumps(asdict(result), default=str))
    return EXIT_OK
