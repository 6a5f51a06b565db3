"""Nested tuning throughput: Optuna trials per minute for ``lgbm`` on S&P 500 daily.

Two numbers: (a) one study on all development rows (what the production model's tuning and
``candor tune-worker`` run), (b) the full nested training — a study inside every outer training
fold plus the production study — counted as all trials over the whole training's wall time.
Inner objective: 3-fold purged walk-forward, weighted F1, median pruner.

    .venv/bin/python benchmarks/tuning.py [--trials 10] [--nested-trials 4] [--folds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import optuna  # noqa: E402
from results_file import write_section  # noqa: E402

from candor.config import load_config  # noqa: E402
from candor.data.datasets import load_dataset  # noqa: E402
from candor.training.matrix import build_labelled_data  # noqa: E402
from candor.training.run import train_labelled  # noqa: E402
from candor.split import holdout_split  # noqa: E402
from candor.training.tuning import tune_params  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--nested-trials", type=int, default=4)
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    config = load_config(None, {"models": {"models": ["lgbm"], "fold_jobs": 1}, "split": {"folds": args.folds},
                                "evaluation": {"importance_repeats": 0, "n_boot": 200},
                                "tune": {"enabled": True, "trials": args.nested_trials}}, environ={})
    bars = load_dataset("sp500")
    data = build_labelled_data(bars, config)
    dev, _ = holdout_split(data.y.index, data.t1, config.split.holdout, purge=config.purge)
    started = time.perf_counter()
    single = tune_params(data.X.iloc[dev], data.y.iloc[dev], data.t1.iloc[dev], "lgbm", trials=args.trials,
                         purge=config.purge, embargo=config.embargo, random_state=config.seed)
    single_s = time.perf_counter() - started
    print(f"single study: {single.n_trials} trials ({single.n_pruned} pruned) in {single_s:.1f}s "
          f"= {single.n_trials / single_s * 60:.1f} trials/min on {len(dev)} rows", flush=True)
    started = time.perf_counter()
    result = train_labelled(data, config, symbol="SPX", timeframe="d1", fingerprint="bench")
    nested_s = time.perf_counter() - started
    total = result.tuning["n_trials_total"]
    print(f"nested training: {total} trials in {nested_s:.1f}s = {total / nested_s * 60:.1f} trials/min", flush=True)
    write_section("tuning", "\n".join([
        "## Nested tuning throughput: `lgbm` on S&P 500 daily",
        "",
        f"{data.n_samples:,} labelled rows, {len(dev):,} development rows; objective = 3-fold inner purged "
        f"walk-forward, weighted F1, TPE + median pruner; 1 thread per fit; {len(os.sched_getaffinity(0))} "
        f"cores shared (load average {os.getloadavg()[0]:.1f}).",
        "",
        "| run | trials | wall time | trials / minute |",
        "|---|---:|---:|---:|",
        f"| one study on all development rows | {single.n_trials} ({single.n_pruned} pruned) | {single_s:.1f} s "
        f"| {single.n_trials / single_s * 60:.1f} |",
        f"| full nested training ({args.folds} outer folds + production, {args.nested_trials} trials each) "
        f"| {total} | {nested_s:.1f} s | {total / nested_s * 60:.1f} |",
    ]))


if __name__ == "__main__":
    main()
