"""XGBoost on CPU vs CUDA: 1,000,000 x 80 synthetic rows, the same model on both devices.

Run it on a machine with an NVIDIA GPU after ``pip install 'candor[gpu]'`` (the full
``xgboost`` wheel): the default ``xgboost-cpu`` has no CUDA, and the script then says so and
times the CPU only. Prints the device, both times and the speed-up, and writes its section.

    .venv/bin/python benchmarks/gpu.py [--rows 1000000] [--features 80] [--trees 200]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from results_file import write_section  # noqa: E402

from candor.training.device import cuda_usable  # noqa: E402


def _data(rows: int, features: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, features), dtype=np.float32)
    logit = X[:, :5] @ np.array([0.8, -0.6, 0.4, 0.3, -0.2], dtype=np.float32)
    return X, (logit + rng.standard_normal(rows, dtype=np.float32) > 0).astype(np.int32)


def _fit(X: np.ndarray, y: np.ndarray, device: str, trees: int) -> float:
    from xgboost import XGBClassifier

    model = XGBClassifier(n_estimators=trees, max_depth=8, learning_rate=0.1, tree_method="hist",
                          device=device, n_jobs=os.cpu_count(), verbosity=0)
    started = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - started


def _gpu_name() -> str:
    try:
        import subprocess

        return subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=10).stdout.strip().splitlines()[0]
    except Exception:  # noqa: BLE001 - no driver / no tool: just unnamed
        return "unknown GPU"


def main() -> None:
    import xgboost

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=80)
    parser.add_argument("--trees", type=int, default=200)
    args = parser.parse_args()
    X, y = _data(args.rows, args.features)
    usable, reason = cuda_usable()
    print(f"xgboost {xgboost.__version__}; CUDA: {'usable' if usable else reason}", flush=True)
    cpu_s = _fit(X, y, "cpu", args.trees)
    print(f"cpu ({os.cpu_count()} threads, {platform.processor() or platform.machine()}): {cpu_s:.1f}s", flush=True)
    cuda_s = _fit(X, y, "cuda", args.trees) if usable else None
    gpu = _gpu_name() if usable else "none"
    if cuda_s is not None:
        print(f"cuda ({gpu}): {cuda_s:.1f}s  speed-up {cpu_s / cuda_s:.1f}x", flush=True)
    else:
        print("cuda: not run — install the full xgboost (pip install 'candor[gpu]') on a GPU machine", flush=True)
    write_section("gpu", "\n".join([
        f"## XGBoost CPU vs CUDA: {args.rows:,} x {args.features} rows, {args.trees} trees, depth 8, hist",
        "",
        f"xgboost {xgboost.__version__}; GPU: {gpu}; CPU threads: {os.cpu_count()}.",
        "",
        "| device | fit time |",
        "|---|---:|",
        f"| cpu | {cpu_s:.1f} s |",
        f"| cuda | {f'{cuda_s:.1f} s ({cpu_s / cuda_s:.1f}x)' if cuda_s else 'not run: ' + reason} |",
    ]))


if __name__ == "__main__":
    main()
