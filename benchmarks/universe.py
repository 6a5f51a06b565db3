"""Universe wall time: 50 synthetic symbols x 2,500 daily bars at --jobs 1 vs --jobs 2.

Model set: ``logreg`` + ``lgbm`` (cheap but with a real OpenMP booster, so thread pinning
matters), 3 outer folds, no permutation importance, dry run (nothing written). Each process gets
``cores // jobs`` model threads. Target speed-up on 2 cores: >= 1.7.

    .venv/bin/python benchmarks/universe.py [--symbols 50] [--bars 2500]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from results_file import write_section  # noqa: E402

from candor.config import load_config  # noqa: E402
from candor.data.synthetic import random_walk  # noqa: E402
from candor.application.universe import SeriesSpec, train_universe  # noqa: E402

MODELS = ("logreg", "lgbm")


def _run(specs: list[SeriesSpec], jobs: int) -> tuple[float, int]:
    config = load_config(None, {
        "models": {"models": list(MODELS), "fold_jobs": 1}, "split": {"folds": 3},
        "evaluation": {"importance_repeats": 0, "n_boot": 200}, "universe": {"jobs": jobs},
    }, environ={})
    started = time.perf_counter()
    rows = train_universe(specs, config, dry_run=True)
    return time.perf_counter() - started, sum(r.status == "trained" for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--bars", type=int, default=2500)
    args = parser.parse_args()
    specs = [SeriesSpec(f"SYN{i:02d}", bars=random_walk(args.bars, seed=i, symbol=f"SYN{i:02d}"))
             for i in range(args.symbols)]
    cores = len(os.sched_getaffinity(0))
    t1, ok1 = _run(specs, 1)
    print(f"jobs=1: {t1:.1f}s ({ok1} trained)", flush=True)
    t2, ok2 = _run(specs, 2)
    print(f"jobs=2: {t2:.1f}s ({ok2} trained)  speed-up {t1 / t2:.2f}x", flush=True)
    load = os.getloadavg()[0]
    write_section("universe", "\n".join([
        f"## Universe training: {args.symbols} synthetic symbols x {args.bars:,} daily bars",
        "",
        f"Models `{', '.join(MODELS)}` (ridge ensemble), 3 outer folds, no permutation importance, dry run; "
        f"{cores} cores, load average {load:.1f} at the end (the machine is shared).",
        "",
        "| jobs | wall time | trained | speed-up |",
        "|---:|---:|---:|---:|",
        f"| 1 | {t1:.1f} s | {ok1} | 1.00x |",
        f"| 2 | {t2:.1f} s | {ok2} | {t1 / t2:.2f}x |",
        "",
        "Each process gets `cores // jobs` model threads (threadpoolctl + OMP/MKL/OpenBLAS limits).",
    ]))


if __name__ == "__main__":
    main()
