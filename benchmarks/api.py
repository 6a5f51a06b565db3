"""Benchmark: the dashboard and REST API under concurrent reads (issue 16: p99 <= 250 ms,
>= 100 req/s, 0 errors at 20 connections, with 1 and with 50 series).

Setup (not timed): a home with one real small training (logreg, 3 folds, 800 synthetic bars),
promoted, with 120 stored forecasts (resolved from the labels) and a drift row. For 50 series the
same artifact is registered, validated and promoted as the champion of 49 more symbols (copies
relabelled per symbol: 50 trainings would measure training), each with its training-run row and
forecasts. Then ``candor serve`` is started as a real process (uvicorn, 127.0.0.1, a free port).

Warm-up (not timed): 12 GETs over one connection, then 60 over ``--concurrency`` connections, so
every ``--workers`` process has built its caches before the timing. Timed: 600 GETs over the six
read pages in turn — ``/api/models``, ``/`` (overview),
``/api/forecasts``, ``/api/training-runs``, ``/api/drift``, ``/models/<symbol>/d1`` — first
sequentially over one connection, then by 20 concurrent connections (httpx, asyncio), measured
on the client from sending the request to the last byte of the body. Errors = any non-200.

    python benchmarks/api.py [--requests 600] [--concurrency 20] [--series 1,50] [--workers 1,2]
                             [--baseline-src DIR [--baseline-label NAME]] [--no-write]

``--baseline-src`` serves the same homes from another source tree too (``git archive <commit> src |
tar -x -C DIR`` and pass ``DIR/src``), so before and after are measured in the same minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).parent))
from results_file import write_section  # noqa: E402

OVERRIDES = {
    "models": {"models": ["logreg"]}, "split": {"folds": 3}, "evaluation": {"importance_repeats": 0, "n_boot": 100},
    "registry": {"min_accuracy": 0.0, "min_precision": 0.0, "min_recall": 0.0, "min_f1": 0.0, "require_edge": False,
                 "min_backtest_sharpe": None, "min_backtest_trades": None, "min_deflated_sharpe": None},
}


def _seed(engine, model, bars, name: str, version: str) -> None:
    """120 forecasts of ``bars``' symbol, resolved from the labels (as the API fixtures do)."""
    from candor.labels import CLASS_NAMES, make_labels
    from candor.store import Resolution, forecasts, resolve_forecasts, upsert_forecasts

    upsert_forecasts(engine, model.predict(bars, last=120), model_name=name, model_version=version)
    labels = make_labels(bars, model.label_spec)
    rows = forecasts(engine, bars.attrs["symbol"], bars.attrs["timeframe"])
    resolve_forecasts(engine, [Resolution(r.id, CLASS_NAMES[int(labels.y.loc[r.bar_ts])], None)
                               for r in rows if r.bar_ts in labels.y.index])


def build_home(home: Path, series: int) -> tuple[str, float]:
    """A home with ``series`` promoted series; returns the first symbol and the setup seconds."""
    from candor.config import load_config
    from candor.data.synthetic import planted_signal
    from candor.registry.artifact import load_model, save_model
    from candor.services import open_services
    from candor.store import TrainingRun, latest_training_runs, record_training_run, upsert_drift_row
    from candor.application.train import run_training

    started = time.perf_counter()
    config = load_config(None, {**OVERRIDES, "home": str(home)}, environ={})
    bars = planted_signal(800, seed=1, symbol="S000")
    outcome = run_training(bars, config, promote=True, actor="benchmark")
    with open_services(config) as services:
        engine, registry, tracking = services.engine, services.registry, services.tracking
        first = outcome.registered
        if not first.promoted:
            registry.promote(first.name, first.version, force=True, actor="benchmark")
        model = load_model(outcome.artifact)
        _seed(engine, model, bars, first.name, first.version)
        run = latest_training_runs(engine)[0]
        columns = [c.name for c in TrainingRun.__table__.columns if c.name not in ("id", "symbol", "model_version",
                                                                                    "model_name", "mlflow_run_id")]
        for i in range(1, series):
            symbol = f"S{i:03d}"
            manifest = model.manifest.model_copy(update={"symbol": symbol})
            copy = save_model(home / "copies" / symbol, model.estimator, manifest)
            mlrun = tracking.client.create_run(tracking.experiment_id, tags={"symbol": symbol})
            tracking.client.log_artifacts(mlrun.info.run_id, str(copy), "model")
            version = registry.register(mlrun.info.run_id, copy)
            registry.validate(version.name, version.version)
            registry.promote(version.name, version.version, actor="benchmark")
            record_training_run(engine, **{c: getattr(run, c) for c in columns}, symbol=symbol,
                                model_name=version.name, model_version=version.version,
                                mlflow_run_id=mlrun.info.run_id)
            relabelled = bars.copy()
            relabelled.attrs = {**bars.attrs, "symbol": symbol}
            _seed(engine, model, relabelled, version.name, version.version)
        for i in range(series):
            upsert_drift_row(engine, symbol=f"S{i:03d}", timeframe="d1", date=bars.index[-1].date(), n=40,
                             status="normal", accuracy=0.55, baseline=0.5, margin=0.05)
    return "S000", time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(home: Path, workers: int = 1, src: str | None = None) -> tuple[subprocess.Popen, str]:
    """``candor serve`` in its own process on a free 127.0.0.1 port, once /healthz answers; with
    ``src``, candor is imported from that source tree (an older commit's ``src``: the baseline)."""
    import httpx

    port = free_port()
    env = {**os.environ, "CANDOR_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    if src:
        env["PYTHONPATH"] = src
    command = [sys.executable, "-c", "from candor.cli import main; raise SystemExit(main())", "serve",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if workers == 1:
        command = command[:-2]  # the same command line works before --workers existed (the "before" run)
    process = subprocess.Popen(command, env=env, cwd=str(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"candor serve exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("candor serve did not answer /healthz within 90 s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def read_paths(symbol: str) -> list[str]:
    return ["/api/models", "/", "/api/forecasts", "/api/training-runs", "/api/drift", f"/models/{symbol}/d1"]


@dataclasses.dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    latencies: tuple[float, ...]
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000


async def hammer(base: str, paths: list[str], total: int, concurrency: int) -> Result:
    """``total`` GETs cycling over ``paths`` from ``concurrency`` connections at once."""
    import httpx

    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(paths[i % len(paths)])
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                path = queue.get_nowait()
                t0 = time.perf_counter()
                try:
                    response = await client.get(path, headers={"accept": "text/html,application/json"})
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Result(total, seconds, tuple(latencies), errors)


def measure(home: Path, symbol: str, total: int, concurrency: int, workers: int,
            src: str | None = None) -> tuple[Result, Result]:
    process, base = start_server(home, workers, src)
    try:
        paths = read_paths(symbol)
        # Warm-up, not timed: imports, templates, caches — in every worker. One connection reached
        # one worker only, and the other's first requests (its first MLflow snapshot, templates)
        # then landed in the timed run; 20 connections spread over the workers like the timed run.
        asyncio.run(hammer(base, paths, 2 * len(paths), 1))
        asyncio.run(hammer(base, paths, 10 * len(paths), concurrency))
        sequential = asyncio.run(hammer(base, paths, total, 1))
        concurrent = asyncio.run(hammer(base, paths, total, concurrency))
    finally:
        stop_server(process)
    return sequential, concurrent


def row(label: str, result: Result) -> str:
    return (f"| {label} | {result.rate:.1f} | {result.pct(0.5):.0f} | {result.pct(0.99):.0f} | "
            f"{max(result.latencies) * 1000:.0f} | {result.errors} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--series", default="1,50", help="comma list of series counts to measure")
    parser.add_argument("--workers", default="1", help="comma list of `candor serve --workers` counts")
    parser.add_argument("--baseline-src", default=None,
                        help="also serve each home from this source tree (e.g. `git archive <commit> src`), "
                             "labelled 'before' — same homes, same minutes")
    parser.add_argument("--baseline-label", default="before", help="how the baseline rows are labelled")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.md alone")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    runs = [(None, None)] if not args.baseline_src else [(args.baseline_label, args.baseline_src), (None, None)]
    lines = []
    setups = []
    loads = []
    for series in (int(s) for s in args.series.split(",")):
        home = Path(tempfile.mkdtemp(prefix=f"candor-bench-api-{series}-"))
        try:
            symbol, setup_s = build_home(home, series)
            setups.append(f"{series} series {setup_s:.0f} s")
            for count in workers:
                for label, src in runs:
                    loads.append(os.getloadavg()[0])
                    sequential, concurrent = measure(home, symbol, args.requests, args.concurrency, count, src)
                    name = (f"{label}, " if label else "") + (f"`--workers {count}`" if count > 1 else "1 worker")
                    lines.append(row(f"{name}: {series} series, sequential (1 connection)", sequential))
                    lines.append(row(f"{name}: {series} series, {args.concurrency} connections", concurrent))
                    print(lines[-2], lines[-1], sep="\n", flush=True)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    baseline = (f" *{args.baseline_label}* = the same homes served by that commit's `src` (`--baseline-src`), "
                "measured in the same minutes." if args.baseline_src else "")
    body = (f"## API reads under load (`benchmarks/api.py`)\n\n"
            f"`candor serve` as a real process on 127.0.0.1; {args.requests} GETs cycling over `/api/models`, "
            f"`/`, `/api/forecasts`, `/api/training-runs`, `/api/drift` and a model page, timed on the client "
            f"(httpx, asyncio, in a third process on the same cores) from request to last byte, after a warm-up "
            f"over {args.concurrency} connections; errors = any non-200. Setup not timed ({'; '.join(setups)}): one real small "
            f"training, promoted, 120 stored forecasts; for 50 series its artifact registered and promoted for 49 "
            f"more symbols with their runs and forecasts. "
            f"Target at {args.concurrency} connections: p99 ≤ 250 ms, ≥ 100 req/s, 0 errors. 1-minute load "
            f"average before each server started: {min(loads):.1f}–{max(loads):.1f} (the benchmark's own "
            f"client and server make about 1–2).{baseline}\n\n"
            "| run | req/s | p50 ms | p99 ms | max ms | errors |\n|---|---:|---:|---:|---:|---:|\n"
            + "\n".join(lines) + "\n")
    print(body)
    if not args.no_write:
        write_section("api", body)


if __name__ == "__main__":
    main()
