"""The ARIMA-GARCH member beside the other members on the embedded daily series, and its cost.

For each embedded daily dataset: the default training (5-fold purged walk-forward, default label
±0.2% over 5 bars) with members rf, gb, xgb, lgbm and arima_garch; the table lists every member's
pooled out-of-sample accuracy (from the training report) beside the majority baseline and the
ensemble with and without it. Timings: the default members with and without arima_garch on sp500, arima_garch alone,
and one AR(1)-GARCH(1,1)-t fit on 4,000 rows. Folds run serially (fold_jobs=1, one thread).

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/arima_garch.py
Writes the section between the `arima_garch` markers of benchmarks/results.md.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import numpy as np  # noqa: E402

from candor.arima_garch import ArimaGarchClassifier  # noqa: E402
from candor.config import load_config  # noqa: E402
from candor.data.datasets import load_dataset  # noqa: E402
from candor.training.matrix import build_labelled_data  # noqa: E402
from candor.training.run import train  # noqa: E402
from results_file import write_section  # noqa: E402

DATASETS = ("sp500", "nasdaq", "aapl")
DEFAULT = ("rf", "gb", "xgb", "lgbm")
WITH_GARCH = DEFAULT + ("arima_garch",)


def run(name: str, members: tuple[str, ...]):
    config = load_config(environ={}, overrides={"models": {"models": members, "fold_jobs": 1, "n_jobs": 1}})
    started = time.perf_counter()
    result = train(load_dataset(name), config)
    return result, time.perf_counter() - started


def member_row(name: str, result, default, seconds: float) -> str:
    scores = result.report.models
    majority = result.oos.baselines["majority"]
    cells = " | ".join(f"{scores[m].oos_accuracy:.3f}" for m in WITH_GARCH)
    weight = result.weights.get("arima_garch", 0.0)
    return (f"| {name} | {result.n_samples:,} | {cells} | {default.oos.accuracy:.3f} | {result.oos.accuracy:.3f} | "
            f"{float(majority):.3f} | {weight:.2f} | {seconds:.1f} s |")


def fit_seconds() -> float:
    data = build_labelled_data(load_dataset("sp500"), load_config(environ={}))
    X, y = data.X.iloc[:4000], data.y.to_numpy()[:4000]
    times = []
    for _ in range(5):
        started = time.perf_counter()
        ArimaGarchClassifier().fit(X, y).predict_proba(data.X.iloc[4000:])
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main() -> None:
    rows, timing = [], {}
    for name in DATASETS:
        default, default_seconds = run(name, DEFAULT)
        result, seconds = run(name, WITH_GARCH)
        rows.append(member_row(name, result, default, seconds))
        if name == "sp500":
            timing["default (rf, gb, xgb, lgbm)"] = (default_seconds, default.timings["walk_forward_s"])
            timing["default + arima_garch"] = (seconds, result.timings["walk_forward_s"])
        print(rows[-1], flush=True)
    result, seconds = run("sp500", ("arima_garch",))
    timing["arima_garch alone"] = (seconds, result.timings["walk_forward_s"])
    one_fit = fit_seconds()
    head = " | ".join(WITH_GARCH)
    body = [
        "## ARIMA-GARCH member beside the others (`benchmarks/arima_garch.py`)",
        "",
        "Pooled out-of-sample accuracy per member (training report), default label ±0.2% over 5 bars, "
        "5-fold purged walk-forward, members rf+gb+xgb+lgbm+arima_garch, folds serial on one thread. "
        "Measured while other sessions loaded the 2-core machine: times are indicative.",
        "",
        f"| series | rows | {head} | ensemble (default 4) | ensemble (+arima_garch) | majority | "
        "arima_garch weight | wall (+arima_garch) |",
        "|---|---:|" + "---:|" * len(WITH_GARCH) + "---:|---:|---:|---:|---:|",
        *rows,
        "",
        "| sp500 training | total wall | walk-forward |",
        "|---|---:|---:|",
        *[f"| {k} | {v[0]:.1f} s | {v[1]:.1f} s |" for k, v in timing.items()],
        f"| one AR(1)-GARCH(1,1)-t fit on 4,000 rows + predict 700 | {one_fit * 1000:.0f} ms | |",
        "",
        "The two sp500 totals above ran minutes apart under a varying load from other sessions and are not "
        "comparable with each other; the member's own cost is the `arima_garch alone` walk-forward "
        "(5 outer folds + the production fit on 5,031 bars).",
    ]
    write_section("arima_garch", "\n".join(body))
    print("\n".join(body))


if __name__ == "__main__":
    main()
