"""How fast the CLI starts: `candor --help`, an option error and `candor validate`, as whole processes.

Each case is a fresh process of the installed ``candor`` console script, as a user types it:

* ``candor --help``;
* ``candor train --folds x`` — an option error (exit 3), refused before the command runs;
* ``candor validate --data bars.csv --calendar 24/7`` on a 400-row CSV (a synthetic random walk);
* ``python -c "import pandas"`` — the floor any command that reads bars pays, in the same run.

The cases run round-robin, ``--repeats`` times each (default 5), so machine noise hits all of them
alike; the table gives the median wall time, the median CPU time (user + system of the process, from
``wait4``: start-up is one thread, so on a busy machine it stays nearer the idle wall time than the
wall time does, though load inflates it too) and the peak resident memory. ``--baseline-src DIR`` runs the same cases with
another source tree first on ``PYTHONPATH`` (e.g. a ``git worktree`` of the commit before), in the
same minutes. Targets (issue 21): ``--help`` and an option error ≤ 0.5 s, ``validate`` ≤ 2 s.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/startup.py [--repeats 5] [--baseline-src DIR] [--no-write]
Writes the section between the `startup` markers of benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_file import write_section  # noqa: E402

CANDOR = Path(sys.executable).with_name("candor")
TARGETS = {"help": 0.5, "option error": 0.5, "validate": 2.0}


@dataclass
class Case:
    name: str
    command: list[str]
    code: int  # the exit code it must end with, or the run is refused
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)


def cases(csv: Path) -> list[Case]:
    return [
        Case("help", [str(CANDOR), "--help"], 0),
        Case("option error", [str(CANDOR), "train", "--folds", "x"], 3),
        Case("validate", [str(CANDOR), "validate", "--data", str(csv), "--calendar", "24/7"], 0),
        Case("import pandas", [sys.executable, "-c", "import pandas"], 0),
    ]


def run_once(case: Case, env: dict[str, str], cwd: Path) -> None:
    """One whole process: wall time, CPU time and peak RSS from the kernel's own accounting."""
    start = time.perf_counter()
    process = subprocess.Popen(case.command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    if process.returncode != case.code:
        raise SystemExit(f"{case.name}: exit {process.returncode}, expected {case.code}\n{error}")
    case.wall.append(wall)
    case.cpu.append(usage.ru_utime + usage.ru_stime)
    case.rss_mb.append(usage.ru_maxrss / 1024)


def measure(repeats: int, env: dict[str, str], csv: Path, cwd: Path, runs: dict[str, dict[str, str]]) -> dict[str, list[Case]]:
    """Every (run, case) once per round, ``repeats`` rounds; the first process of each is a warm-up."""
    results = {label: cases(csv) for label in runs}
    for label, extra in runs.items():  # warm the page cache and byte-code files; not counted
        for case in results[label]:
            run_once(Case(case.name, case.command, case.code), {**env, **extra}, cwd)
    for _ in range(repeats):
        for label, extra in runs.items():
            for case in results[label]:
                run_once(case, {**env, **extra}, cwd)
    return results


def row(label: str, case: Case) -> str:
    target = TARGETS.get(case.name)
    wall, cpu = statistics.median(case.wall), statistics.median(case.cpu)
    judged = "" if target is None else (" ✓" if wall <= target else (" ✓ (CPU)" if cpu <= target else " ✗"))
    name = {"help": "`candor --help`", "option error": "`candor train --folds x` (option error, exit 3)",
            "validate": "`candor validate --data` 400-row CSV", "import pandas": '`python -c "import pandas"`'}[case.name]
    return (f"| {label}{name} | {wall:.2f} | {cpu:.2f} | {statistics.median(case.rss_mb):.0f} | "
            f"{'' if target is None else f'≤ {target:g} s'}{judged} |")


def _describe(src: str) -> str:
    """``src of 9bbc78c`` where the folder is in a git checkout, else the folder."""
    commit = subprocess.run(["git", "-C", src, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", src, "status", "--porcelain", "--untracked-files=no", "."],
                           capture_output=True, text=True).stdout.strip()
    if commit.returncode != 0:
        return f"`{src}`"
    return f"the `src` of {commit.stdout.strip()}" + (" plus uncommitted changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-src", default=None,
                        help="also run every case with this source tree first on PYTHONPATH (e.g. a worktree's src)")
    parser.add_argument("--baseline-label", default="before", help="how the baseline rows are labelled")
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.md alone")
    args = parser.parse_args()
    if not CANDOR.exists():
        raise SystemExit(f"no console script at {CANDOR}; install candor into this environment (make install)")

    with tempfile.TemporaryDirectory(prefix="candor-bench-startup-") as scratch:
        root = Path(scratch)
        csv = root / "bars.csv"
        # In a child: this process stays small, because Linux counts the RSS a child had at fork, the
        # parent's, into the child's peak (ru_maxrss) — a parent holding pandas would inflate every row.
        subprocess.run([sys.executable, "-c", "import sys; from candor.data.synthetic import random_walk; "
                        "random_walk(400, seed=7, symbol='RW').to_csv(sys.argv[1])", str(csv)], check=True)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}
        env.update(CANDOR_HOME=str(root / "home"), MLFLOW_DISABLE_TELEMETRY="true", OMP_NUM_THREADS="1",
                   COLUMNS="100")
        runs: dict[str, dict[str, str]] = {}
        if args.baseline_src:
            runs[args.baseline_label] = {"PYTHONPATH": str(Path(args.baseline_src).resolve())}
        runs[""] = {}
        load_before = os.getloadavg()[0]
        results = measure(args.repeats, env, csv, root, runs)
        load_after = os.getloadavg()[0]

    lines = [row(f"{label}: " if label else "", case) for label, run in results.items() for case in run]
    baseline = (f" *{args.baseline_label}* = the same commands with {_describe(args.baseline_src)} first on "
                f"`PYTHONPATH` (`--baseline-src`), interleaved with the current code in the same minutes; "
                f"current = {_describe('src')}."
                if args.baseline_src else "")
    body = (f"## CLI start-up (`benchmarks/startup.py`)\n\n"
            f"Whole processes of the `candor` console script, {args.repeats} rounds round-robin after one "
            f"warm-up each; medians. CPU = user + system time of the process (`wait4`): start-up is one thread, "
            f"so on a busy machine CPU time stays nearer the idle wall time than the wall time does (load "
            f"inflates it too); peak RSS from the same call. "
            f"1-minute load average {load_before:.1f} before, {load_after:.1f} after (2 cores).{baseline} "
            f"Targets (issue 21): `--help` and an option error ≤ 0.5 s, `validate` on 400 rows ≤ 2 s, "
            f"judged on the wall time (✓ (CPU): met on CPU time, the wall time was stretched by other load).\n\n"
            "| command | wall s | CPU s | peak RSS MB | target |\n|---|---:|---:|---:|---|\n"
            + "\n".join(lines) + "\n")
    print(body)
    if not args.no_write:
        write_section("startup", body)


if __name__ == "__main__":
    main()
