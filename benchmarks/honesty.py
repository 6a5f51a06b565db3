"""Out-of-sample skill on the embedded real series, beside the naive baselines and the class prior.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/honesty.py [--label NAME] [--datasets sp500,...]``.
Trains each series with the default configuration (the same code path as ``candor train``,
without the registry) and writes one row per series to ``benchmarks/results.md`` under
"Honesty": accuracy beside the best baseline with the lift's CI and verdict, log-loss and Brier
beside the class prior's with the gain's CI and verdict, for the pooled walk-forward rows and
the holdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).parent))

from results_file import write_section  # noqa: E402

from candor.config import load_config  # noqa: E402
from candor.data.datasets import load_dataset  # noqa: E402
from candor.data.synthetic import planted_signal, random_walk  # noqa: E402
from candor.evaluate import Verdict  # noqa: E402
from candor.training.run import train  # noqa: E402

DATASETS = ("sp500", "nasdaq", "aapl", "aapl_h1")


def _row(name: str, where: str, e) -> dict:
    return {
        "series": name, "rows": where, "n": e.n, "accuracy": e.accuracy, "best_baseline": e.best_baseline,
        "baseline_accuracy": e.best_baseline_accuracy, "lift_ci": [e.lift_ci_low, e.lift_ci_high],
        "verdict": str(e.verdict), "log_loss": e.log_loss, "prior_log_loss": e.prior_log_loss,
        "log_loss_gain_ci": [e.log_loss_gain_ci_low, e.log_loss_gain_ci_high],
        "log_loss_verdict": str(e.log_loss_verdict), "brier": e.brier, "prior_brier": e.prior_brier,
        "block_length": e.block_length,
    }


def measure(datasets: tuple[str, ...]) -> list[dict]:
    config = load_config(environ={})
    rows = []
    for name in datasets:
        started = time.perf_counter()
        result = train(load_dataset(name), config)
        for where, e in (("oos", result.oos), ("holdout", result.holdout)):
            rows.append({**_row(name, where, e), "seconds": round(time.perf_counter() - started, 1)})
        print(json.dumps(rows[-2:]), flush=True)
    return rows


def power(strengths: tuple[float, ...] = (0.5, 0.75, 1.0), seeds: int = 10, bars: int = 2000) -> str:
    """Share of planted-signal series called "significant edge" per strength (and of random walks),
    with the honesty suite's cheap configuration (logistic member, 4 folds)."""
    config = load_config(environ={}, overrides={"models": {"models": ("logreg",)}, "split": {"folds": 4},
                                                "evaluation": {"n_boot": 500, "importance_repeats": 0}})
    lines = ["| series | strength | seeds | significant edge | mean lift (pts) | mean log-loss gain |", "|---|---|---|---|---|---|"]
    cases = [("random walk", 0.0)] + [("planted signal", s) for s in strengths]
    for name, strength in cases:
        reports = [train(random_walk(bars, seed=seed) if strength == 0 else
                         planted_signal(bars, seed=seed, strength=strength), config).oos for seed in range(seeds)]
        found = sum(r.verdict == Verdict.SIGNIFICANT_EDGE for r in reports)
        lines.append(f"| {name} | {strength:g} | {seeds} | {found}/{seeds} | "
                     f"{100 * sum(r.lift for r in reports) / seeds:+.1f} | "
                     f"{sum(r.log_loss_gain for r in reports) / seeds:+.4f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def _table(rows: list[dict]) -> str:
    lines = ["| series | rows | n | accuracy | best baseline | lift 95% CI (pts) | verdict | log-loss | prior | "
             "gain 95% CI | verdict | Brier | prior |", "|" + "---|" * 13]
    for r in rows:
        lo, hi = (100 * v for v in r["lift_ci"])
        glo, ghi = r["log_loss_gain_ci"]
        lines.append(
            f"| {r['series']} | {r['rows']} | {r['n']} | {r['accuracy']:.3f} | {r['best_baseline']} "
            f"{r['baseline_accuracy']:.3f} | [{lo:+.1f}, {hi:+.1f}] | {r['verdict']} | {r['log_loss']:.3f} | "
            f"{r['prior_log_loss']:.3f} | [{glo:+.3f}, {ghi:+.3f}] | {r['log_loss_verdict']} | {r['brier']:.3f} | "
            f"{r['prior_brier']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", default="current defaults")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--power", action="store_true", help="measure power on the planted-signal generator instead")
    args = parser.parse_args()
    if args.power:
        write_section("Honesty: power on the planted signal", power())
        return
    rows = measure(tuple(args.datasets.split(",")))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    write_section(f"Honesty: skill on the embedded series ({args.label})", _table(rows))


if __name__ == "__main__":
    main()
