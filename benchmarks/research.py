"""Research search wall time and peak memory: series x 2,500 daily bars x 2 horizons x 5 label
configurations (threshold ±0.1/0.2/0.5%, binary, volscaled), members logreg + lgbm, 3 folds,
n_boot 200, --jobs 2 processes (threads pinned per process), every cell recorded in a scratch
ledger. Issue 23's target: 500 cells (50 series) in <= 4 minutes on 2 cores.

Then the Dask equality: the first ``--dask-series`` series (default 4: 40 cells) searched once in
the ``--jobs`` pool and once on a local Dask cluster (2 worker processes, 1 thread each: the
``--dask ADDRESS`` engine) must give identical documents (every cell's lift, CI, raw and adjusted
p-value, survival, and the PBO; only the per-cell seconds differ). ``--dask-series 0`` skips it.

Peak memory is the largest sum of resident memory over this process and its worker processes,
sampled every 0.2 s. ``--series 5`` runs a tenth of the search (50 cells) and extrapolates the
time linearly in series (each series is one task; 2 workers stay busy when series >= 2 x jobs).

    .venv/bin/python benchmarks/research.py [--series 50] [--bars 2500] [--jobs 2] [--dask-series 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import psutil  # noqa: E402
from results_file import write_section  # noqa: E402

from candor.application.research import ResearchGrid, ResearchReport, run_research  # noqa: E402
from candor.application.universe import SeriesSpec  # noqa: E402
from candor.config import load_config  # noqa: E402
from candor.data.synthetic import planted_signal, random_walk  # noqa: E402

MODELS = ("logreg", "lgbm")
HORIZONS = (1, 5)
LABELS = ("threshold", "binary", "volscaled")
THRESHOLDS = (0.001, 0.002, 0.005)  # threshold labels only: 3 + binary + volscaled = 5 configurations


class PeakMemory:
    """Largest RSS of this process plus its children, sampled in a thread; and the CPU seconds
    (user + system) they spent meanwhile, the figure a loaded shared machine cannot inflate much."""

    def __init__(self, every: float = 0.2) -> None:
        self.every, self.peak, self._stop = every, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._cpu_start: dict[int, float] = {}
        self._cpu_last: dict[int, float] = {}

    @property
    def cpu_seconds(self) -> float:
        return sum(last - self._cpu_start.get(pid, 0.0) for pid, last in self._cpu_last.items())

    def _sample(self) -> None:
        me = psutil.Process()
        first = True
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                    cpu = proc.cpu_times()
                    self._cpu_last[proc.pid] = cpu.user + cpu.system
                    if first:  # already-running workers (a reused pool) count from here
                        self._cpu_start[proc.pid] = self._cpu_last[proc.pid]
                except psutil.Error:
                    pass
            first = False
            self.peak = max(self.peak, total)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


def _specs(series: int, bars: int) -> list[SeriesSpec]:
    planted = max(1, series // 10)
    specs = [SeriesSpec(f"RW{i}", bars=random_walk(bars, seed=i, symbol=f"RW{i}")) for i in range(series - planted)]
    return specs + [SeriesSpec(f"PL{i}", bars=planted_signal(bars, seed=i, symbol=f"PL{i}")) for i in range(planted)]


def _search(specs: list[SeriesSpec], jobs: int, dask: str | None = None) -> tuple[ResearchReport, float, PeakMemory]:
    """Search ``specs`` (scratch home and ledger); the report, wall seconds and the memory/CPU sampler."""
    with tempfile.TemporaryDirectory() as home:
        config = load_config(None, {"home": home, "models": {"models": list(MODELS)}, "split": {"folds": 3},
                                    "evaluation": {"importance_repeats": 0, "n_boot": 200}}, environ={})
        grid = ResearchGrid(tuple(specs), HORIZONS, LABELS, THRESHOLDS, (MODELS,), (config.features.groups,))
        started = time.perf_counter()
        with PeakMemory() as memory:
            report = run_research(grid, config, jobs=jobs, dask=dask)
        return report, time.perf_counter() - started, memory


def _numbers(report: ResearchReport) -> dict:
    """The report's document without the per-cell seconds (the only field that may differ)."""
    document = report.document()
    document["cells"] = [{k: v for k, v in cell.items() if k != "seconds"} for cell in document["cells"]]
    return document


def _dask_equality(specs: list[SeriesSpec], jobs: int) -> list[str]:
    from distributed import LocalCluster

    pooled, pool_s, _ = _search(specs, jobs)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        on_dask, dask_s, dask_usage = _search(specs, jobs, dask=cluster.scheduler_address)
    same = _numbers(pooled) == _numbers(on_dask)
    if not same:
        raise SystemExit(f"the Dask search differs from the --jobs {jobs} search: {on_dask.sentence} vs {pooled.sentence}")
    cells = len(on_dask.rows)
    return [f"Dask equality: {len(specs)} series = {cells} cells on a local Dask cluster (2 worker processes x 1 "
            f"thread, `--dask ADDRESS`) give the same document as the --jobs {jobs} pool (every cell's lift, CI, raw "
            f"and adjusted p, survival; PBO): identical = {same}; wall {dask_s:.1f} s on Dask (the workers' imports "
            f"inside it, peak {dask_usage.peak / 2**20:.0f} MiB) vs {pool_s:.1f} s in the pool; answer: "
            f"{on_dask.sentence}"]


def _survivors_by_kind(report: ResearchReport) -> str:
    """Which series the survivors come from: a random-walk survivor is a false discovery."""
    cells = report.document()["cells"]
    survived = [c["series"] for c in cells if c.get("survives")]
    walks = sum(name.startswith("RW") for name in survived)
    planted_cells = sum(c["series"].startswith("PL") for c in cells)
    return (f"survivors by series kind: {len(survived) - walks} of {planted_cells} planted-signal cells, {walks} of "
            f"{len(cells) - planted_cells} random-walk cells (a random-walk survivor is a false discovery)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=50)
    parser.add_argument("--bars", type=int, default=2500)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dask-series", type=int, default=4, help="series in the Dask equality run (0: skip it)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.md alone")
    args = parser.parse_args()
    load_before = os.getloadavg()
    report, seconds, usage = _search(_specs(args.series, args.bars), args.jobs)
    load_after = os.getloadavg()
    cells = len(report.rows)
    lines = [
        f"{args.series} series x {args.bars} bars x {len(HORIZONS)} horizons x 5 configurations = {cells} cells "
        f"({report.n_failed} failed), {'+'.join(MODELS)}, 3 folds, n_boot 200, --jobs {args.jobs}:",
        f"wall {seconds:.1f} s ({seconds / max(1, cells):.2f} s a cell), peak memory (parent + workers) "
        f"{usage.peak / 2**20:.0f} MiB; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
        f"({len(os.sched_getaffinity(0))} cores, shared with other sessions)",
        f"CPU time (parent + workers, user + system) {usage.cpu_seconds:.0f} s = {usage.cpu_seconds / max(1, cells):.2f} "
        f"s a cell: on {args.jobs} otherwise idle cores the wall would be about {usage.cpu_seconds / args.jobs:.0f} s",
        f"answer: {report.sentence}",
        _survivors_by_kind(report),
    ]
    if args.series == 50:
        lines.append(f"target (500 cells <= 240 s on 2 cores): {'met' if seconds <= 240 else 'not met'} in wall time on "
                     f"this shared machine; the CPU time alone, {usage.cpu_seconds:.0f} s over {args.jobs} processes, "
                     f"{'fits' if usage.cpu_seconds / args.jobs <= 240 else 'does not fit'} in 240 s")
    if args.series != 50:
        lines.append(f"extrapolated to 500 cells (50 series, linear in series): {seconds * 50 / args.series:.0f} s")
    print("\n".join(lines), flush=True)
    if args.dask_series:
        lines += _dask_equality(_specs(args.dask_series, args.bars), args.jobs)
        print(lines[-1], flush=True)
    if not args.no_write:
        body = ("## Research search (`benchmarks/research.py`)\n\n"
                "Issue 23 item 2: a search of series x 2,500 daily bars x 2 horizons (1, 5) x 5 label configurations "
                "(threshold ±0.1/0.2/0.5%, binary, volscaled), members logreg + lgbm (one blend per cell), every "
                "feature group, 3 folds, n_boot 200, one task per series in `--jobs 2` processes on the shared "
                "2-core machine, every cell written to a scratch trial ledger. "
                "Target: 500 cells in <= 4 minutes.\n\n" + "\n".join(f"- {line}" for line in lines) + "\n")
        write_section("research", body)


if __name__ == "__main__":
    main()
