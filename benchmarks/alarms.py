"""The drift alarm's false-alarm rate and detection delay, by simulation (issue 24 item 2).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/alarms.py [--runs 100000] [--write]``.

For each OOS accuracy p0 the one-sided Bernoulli CUSUM of :mod:`candor.ops.alarms` (alternative
p1 = p0 − 0.10, default settings: 252 forecasts a year, drift at 5% false alarms a year,
emergency at 1%) is run on

* **stationary** hits (rate p0) for one year: the share of runs with an alarm (drift or worse)
  and with an emergency, beside the exact Markov-chain rate the threshold was set by;
* a **10-point drop** (rate p1) from S = 0 (the slowest start): the median and the 90% / 95%
  quantiles of the number of resolved forecasts to the alarm, simulated and from the chain.

A last table shows why overlapping label windows are thinned: daily forecasts of a 5-bar
horizon (labels = sign of the next 5 returns, forecasts = that sum plus persistent noise, tuned
to p0 = 0.55) have correlated hits; the share of stationary years with a false alarm when every
forecast is tested vs when only every 5th is (one per label window). With ``--write`` the tables
replace the "alarms" section of ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402

from candor.config import load_config  # noqa: E402
from candor.ops.alarms import (  # noqa: E402
    alternative, cusum_paths, detection_delay, false_alarm_rate, threshold_for,
)
from results_file import write_section  # noqa: E402

YEAR = 252


def _first(paths: np.ndarray, h: float) -> np.ndarray:
    crossed = paths >= h
    return np.where(crossed.any(axis=1), crossed.argmax(axis=1) + 1, np.iinfo(np.int64).max)


def calibration(runs: int, rng: np.random.Generator) -> list[str]:
    drift = load_config(None, {}, environ={}).drift
    lines = ["| p0 | h drift / emergency | false alarms a year: chain | simulated | emergency simulated | "
             "delay median | 90% chain / simulated | 95% chain / simulated |", "|---|---|---|---|---|---|---|---|"]
    for p0 in (0.40, 0.45, 0.50, 0.55, 0.60, 0.65):
        p1 = alternative(p0, drift.detect_drop)
        h = threshold_for(p0, p1, YEAR, drift.false_alarms_per_year)
        he = threshold_for(p0, p1, YEAR, drift.emergency_false_alarms_per_year)
        far = chunks = em = 0.0
        for _ in range(runs // 10_000):
            paths = cusum_paths(rng.random((10_000, YEAR)) < p0, p0, p1)
            far += (paths >= h).any(axis=1).sum()
            em += (paths >= he).any(axis=1).sum()
            chunks += 10_000
        first = np.concatenate([_first(cusum_paths(rng.random((10_000, 700)) < p1, p0, p1), h)
                                for _ in range(max(1, runs // 50_000))])
        q50, q90, q95 = np.percentile(first, [50, 90, 95], method="higher")
        lines.append(f"| {p0:.2f} | {h:.3f} / {he:.3f} | {false_alarm_rate(p0, p1, h, YEAR):.4f} | {far / chunks:.4f} | "
                     f"{em / chunks:.4f} | {q50} | {detection_delay(p0, p1, h)} / {q90} | "
                     f"{detection_delay(p0, p1, h, 0.95)} / {q95} |")
    return lines


def overlap(runs: int, rng: np.random.Generator, horizon: int = 5, p0: float = 0.55) -> list[str]:
    rho = np.sin(np.pi * (p0 - 0.5))  # P(same sign) of two normals with correlation rho = 1/2 + asin(rho)/pi
    c = np.sqrt(1.0 / rho**2 - 1.0)
    p1 = alternative(p0, 0.10)
    h = threshold_for(p0, p1, YEAR, 0.05)
    every = thinned = rate = 0.0
    for _ in range(runs // 5_000):
        e = rng.standard_normal((5_000, YEAR + horizon))
        z = rng.standard_normal((5_000, YEAR + horizon))
        ce, cz = np.cumsum(e, axis=1), np.cumsum(z, axis=1)
        future = ce[:, horizon:] - ce[:, :-horizon]    # the next `horizon` returns after each forecast
        noise = cz[:, horizon:] - cz[:, :-horizon]     # persistent forecast error over the same window
        hits = (future > 0) == (future + c * noise > 0)
        rate += hits.mean() / (runs // 5_000)
        every += (cusum_paths(hits, p0, p1) >= h).any(axis=1).sum()
        thinned += (cusum_paths(hits[:, ::horizon], p0, p1) >= h).any(axis=1).sum()
    return [f"| daily forecasts, 5-bar horizon (hit rate {rate:.3f}), threshold for 5% | false alarms in a year |",
            "|---|---|", f"| every forecast tested (as if independent) | {every / runs:.4f} |",
            f"| one per label window (`drift.thin_overlapping`, the default) | {thinned / runs:.4f} |"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(2024)
    start = time.perf_counter()
    body = ["## Drift alarms: false-alarm rate and detection delay (issue 24 item 2)", "",
            f"`{' '.join(['benchmarks/alarms.py', '--runs', str(args.runs)])}`: {args.runs:,} simulated years per row "
            "(252 daily checks, one resolved forecast each); delays over "
            f"{max(1, args.runs // 50_000) * 10_000:,} runs of a 10-point drop from S = 0. Defaults: drift at 5% "
            "false alarms a year, emergency at 1%, p1 = p0 − 0.10.", "", *calibration(args.runs, rng), "",
            *overlap(args.runs // 2, rng), ""]
    body.append(f"Took {time.perf_counter() - start:.0f} s on the shared 2-core machine.")
    text = "\n".join(body)
    print(text)
    if args.write:
        write_section("alarms", text)


if __name__ == "__main__":
    main()
