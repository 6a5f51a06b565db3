"""Benchmark: a small team's daily session for 4 series — import one bar each, forecast, drift (issue 25 item 9).

Setup (not timed): a fresh ``CANDOR_HOME`` and a ``candor.toml`` beside it; 4 synthetic series
(``planted_signal``, d1, 24/7, own seeds) whose history is imported into the operational store;
one champion per series, trained once (logreg, 3 folds) with the registry gates at zero so each is
promoted (forced champions: the benchmark times the session, not whether a toy model passes the
gates); one one-bar CSV per series and session (the bars after the history).

Timed: ``--sessions`` sessions (default 5), each a whole-process run of, in order,

    candor data import --data <S1 bar>.csv --symbol S1 … --data <S4 bar>.csv --symbol S4 --timeframe d1 --calendar 24/7
    candor forecast
    candor drift

as a user types them (the installed console script; one ``data import`` takes the 4 files).
Each process's wall time, and its CPU time (user + system, from ``wait4``). The first session
warms the page cache and byte-code files and is not counted. Target: a session ≤ 10 s on an idle
machine.

Also (not the target): ``--one-process N`` more sessions, each one Python process that does what
``candor schedule`` composes in its one process — the import of the 4 bars (the library call behind
``data import``), then the ``forecast`` and ``drift`` jobs (``candor.ops.jobs.run_job``) on one set of
services, so the imports and the model cache are shared.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/daily.py [--sessions 5] [--one-process 3] [--no-write]
      PROFILE=forecast (or drift, import) runs that command once under cProfile and prints it.
Writes the section between the `daily` markers of benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import os
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

CANDOR = Path(sys.executable).with_name("candor")
SYMBOLS = ("S1", "S2", "S3", "S4")
HISTORY = 800
TARGET_S = 10.0
TOML = """\
[models]
models = ["logreg"]

[split]
folds = 3

[labels]
threshold = 0.006

[evaluation]
n_boot = 200

[registry]
min_accuracy = 0.0
min_precision = 0.0
min_recall = 0.0
min_f1 = 0.0
require_edge = false
min_backtest_trades = 0
min_backtest_sharpe = -1000.0
min_deflated_sharpe = 0.0

[forecast]
gap_policy = "ignore"   # synthetic bars end in the past: a stale-bar refusal would skip the forecast
"""


def _setup(work: Path, sessions: int) -> dict[str, str]:
    """The home, the stored history, the champions and the one-bar files; returns the environment."""
    from candor.config import load_config
    from candor.data.synthetic import planted_signal
    from candor.services import open_services
    from candor.store import import_bars
    from candor.application.train import run_training

    home = work / "home"
    (work / "candor.toml").write_text(TOML)
    env = {**os.environ, "CANDOR_HOME": str(home), "COLUMNS": "160"}
    for key in [k for k in env if k.startswith("CANDOR_") and k != "CANDOR_HOME"] + ["MLFLOW_TRACKING_URI"]:
        env.pop(key, None)
    config = load_config(work / "candor.toml", environ={"CANDOR_HOME": str(home)})
    started = time.perf_counter()
    with open_services(config, migrate=True) as services:
        for i, symbol in enumerate(SYMBOLS):
            bars = planted_signal(HISTORY + sessions, seed=10 + i, symbol=symbol)
            history = bars.iloc[:HISTORY].copy()
            history.attrs = dict(bars.attrs)
            import_bars(services.engine, history)
            outcome = run_training(history, config, services=services, promote=True, force=True,
                                   actor="benchmarks/daily.py", reason="benchmark champion")
            assert outcome.registered is not None and outcome.registered.promoted, outcome.gate_failures
            for k in range(sessions):
                bars.iloc[HISTORY + k: HISTORY + k + 1].to_csv(work / f"bar-{k}-{symbol}.csv")
    print(f"setup: {len(SYMBOLS)} series stored and trained in {time.perf_counter() - started:.1f}s", flush=True)
    return env


ONE_PROCESS = """
import sys
from candor.application.ingest import import_file_bars
from candor.config import load_config
from candor.data.sources import open_bars
from candor.ops.context import OpsContext
from candor.ops.jobs import run_job
from candor.services import open_services

config = load_config()
with open_services(config) as services:
    for path, symbol in zip(sys.argv[1::2], sys.argv[2::2]):
        import_file_bars(services.engine, open_bars(data=path, symbol=symbol, timeframe="d1", calendar="24/7"))
    ctx = OpsContext(services)
    written = run_job("forecast", ctx).written
    run_job("drift", ctx)
print(f"{written} new row(s)")
"""


def _one_process(work: Path, k: int) -> list[str]:
    files = [arg for s in SYMBOLS for arg in (str(work / f"bar-{k}-{s}.csv"), s)]
    return [sys.executable, "-c", ONE_PROCESS, *files]


def _commands(work: Path, k: int) -> list[tuple[str, list[str]]]:
    pairs = [arg for s in SYMBOLS for arg in ("--data", str(work / f"bar-{k}-{s}.csv"), "--symbol", s)]
    imports = [("import", [str(CANDOR), "data", "import", *pairs, "--timeframe", "d1", "--calendar", "24/7"])]
    return [*imports, ("forecast", [str(CANDOR), "forecast"]), ("drift", [str(CANDOR), "drift"])]


def _run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """One whole process: wall and CPU seconds (kernel accounting) and its output; refused unless exit 0."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode(errors="replace") if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if process.stdout:
        process.stdout.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(command[1:])}: exit {code}\n{output}")
    return wall, usage.ru_utime + usage.ru_stime, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5, help="counted sessions (one more warms up)")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave results.md alone")
    parser.add_argument("--one-process", type=int, default=3,
                        help="more sessions as one process (the schedule's composition), after the counted ones")
    parser.add_argument("--label", default="", help="a name for this run in the printed table (e.g. before)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="candor-bench-daily-"))
    total = args.sessions + 1
    env = _setup(work, total + args.one_process)
    profile = os.environ.get("PROFILE")
    per: dict[str, list[tuple[float, float]]] = {"import": [], "forecast": [], "drift": []}
    sessions: list[tuple[float, float]] = []
    last = ""
    for k in range(total):
        wall = cpu = 0.0
        by_name: dict[str, list[tuple[float, float]]] = {"import": [], "forecast": [], "drift": []}
        for name, command in _commands(work, k):
            if profile == name and k == total - 1:
                command = [sys.executable, "-m", "cProfile", "-s", "cumulative", *command]
            w, c, output = _run(command, env, work)
            wall, cpu = wall + w, cpu + c
            by_name[name].append((w, c))
            if name == "forecast":
                last = output
            if profile == name and k == total - 1:
                print(output[:12000])
        print(f"session {k}{' (warm-up)' if k == 0 else ''}: {wall:.2f}s wall, {cpu:.2f}s CPU — "
              + ", ".join(f"{n} {sum(w for w, _ in v):.2f}s" for n, v in by_name.items()), flush=True)
        if k > 0:
            sessions.append((wall, cpu))
            per["import"].append((sum(w for w, _ in by_name["import"]), sum(c for _, c in by_name["import"])))
            for name in ("forecast", "drift"):
                per[name].append(by_name[name][0])
    assert "new row" in last, last
    single: list[tuple[float, float]] = []
    for k in range(total, total + args.one_process):
        w, c, output = _run(_one_process(work, k), env, work)
        assert "4 new row" in output, output
        single.append((w, c))
        print(f"one-process session {k}: {w:.2f}s wall, {c:.2f}s CPU", flush=True)
    med = statistics.median
    session_wall, session_cpu = med(w for w, _ in sessions), med(c for _, c in sessions)
    label = f"{args.label} " if args.label else ""
    rows = [f"| {label}`candor data import` (4 files, one bar each) | {med(w for w, _ in per['import']):.2f} | "
            f"{med(c for _, c in per['import']):.2f} | |",
            f"| {label}`candor forecast` (4 series, h5) | {med(w for w, _ in per['forecast']):.2f} | "
            f"{med(c for _, c in per['forecast']):.2f} | |",
            f"| {label}`candor drift` (4 series) | {med(w for w, _ in per['drift']):.2f} | "
            f"{med(c for _, c in per['drift']):.2f} | |",
            f"| {label}**session** | **{session_wall:.2f}** | {session_cpu:.2f} | ≤ {TARGET_S:g} s "
            f"{'✓' if session_wall <= TARGET_S else '✗'} |"]
    if single:
        rows.append(f"| {label}one process, as `candor schedule` composes it (import, forecast and drift jobs; "
                    f"median of {len(single)}) | {med(w for w, _ in single):.2f} | {med(c for _, c in single):.2f} | |")
    body = (f"## Daily session: 4 series (`benchmarks/daily.py`)\n\n"
            f"A fresh home, 4 synthetic d1 series ({HISTORY} bars stored each), one logreg champion each (3 folds, "
            "trained and promoted once, outside the timings). A session is 3 whole processes of the installed "
            "`candor` script: one `data import` of the 4 one-bar CSVs, `forecast`, `drift`. Median of "
            f"{args.sessions} sessions after one warm-up; CPU is user + system from `wait4`. "
            f"Load average at the end: {os.getloadavg()[0]:.1f} (2 cores shared).\n\n"
            "| step | wall s | CPU s | target |\n|---|---:|---:|---|\n" + "\n".join(rows) + "\n")
    print(body)
    if not args.no_write:
        write_section("daily", body)


if __name__ == "__main__":
    main()
