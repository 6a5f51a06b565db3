"""The paired lift test's error rates, before and after the block's persistence floor (issue 22 item 13).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/paired_coverage.py [--reps 400] [--write]``.

For each simulated case (1,500 rows unless named, 95% level) the share of series called
"significant edge" (the false-positive rate where the true lift is 0, the power where it is
+5 points), the share whose CI covers the true lift, and the median block length, for

* **before**: the block from ``d`` alone (Politis–White ×2, ≥ horizon) and a fixed ``n_boot``
  (the rule up to this change; ``lift_test`` without ``labels``, ``max_boot = n_boot``);
* **after**: the block floored by the persistence of the labels and both predictions
  (:func:`candor.evaluate.persistence_block`, what :func:`evaluate_oos` passes) and the draws
  doubled near the verdict's boundary.

The cases are the ones the tests hold the test to (``tests/honesty/test_dependence.py``,
``tests/test_evaluate.py``) plus the one the issue found: a skill-less model and baseline whose
predictions run ~50 bars, on labels with an uneven class mix. With ``--write`` the table replaces
the "paired-coverage" section of ``benchmarks/results.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))  # the tests' own generators: the same cases

import numpy as np  # noqa: E402
from results_file import write_section  # noqa: E402

from candor.evaluate import lift_test  # noqa: E402
from candor.records.verdict import Verdict  # noqa: E402
from tests.honesty.test_dependence import _chain as chain, _horizon_labels as horizon_labels  # noqa: E402

ALPHA, N, N_BOOT = 0.05, 1500, 1000
Case = tuple[np.ndarray, np.ndarray, list[np.ndarray]]  # model correct, baseline correct, label series


def copy_some(rng: np.random.Generator, pred: np.ndarray, y: np.ndarray, share: float) -> np.ndarray:
    return np.where(rng.random(len(y)) < share, y, pred)


def slow_weak(rng: np.random.Generator, edge: bool = False) -> Case:
    """Issue 22 item 13: iid labels 25/25/50, model and baseline independent ~50-bar chains."""
    y = rng.choice(3, N, p=[0.25, 0.25, 0.5])
    model, base = chain(rng, N, 50), chain(rng, N, 50)
    if edge:
        model = copy_some(rng, model, y, 0.075)  # +0.075 · (1 − 1/3) = +5 points
    return model == y, base == y, [y, model, base]


def regimes(rng: np.random.Generator, edge: bool = False) -> Case:
    """test_dependence: labels and model independent ~50-bar chains; baseline always class 0."""
    y, model = chain(rng, N, 50), chain(rng, N, 50)
    if edge:
        model = copy_some(rng, model, y, 0.075)
    base = np.zeros(N, int)
    return model == y, base == y, [y, model, base]


def iid(rng: np.random.Generator, edge: bool = False) -> Case:
    """test_dependence's power case on iid rows (persist 1)."""
    y, model = rng.integers(3, size=N), rng.integers(3, size=N)
    if edge:
        model = copy_some(rng, model, y, 0.075)
    base = np.zeros(N, int)
    return model == y, base == y, [y, model, base]


def horizon20(rng: np.random.Generator, edge: bool = False) -> Case:
    """test_dependence: overlapping 20-bar labels; the same predictor scored on reversed labels."""
    y, model = horizon_labels(rng, N, 20), chain(rng, N, 20)
    return model == y, model == y[::-1], [y, model, y[::-1]]


def runs5(rng: np.random.Generator, edge: bool = False) -> Case:
    """test_evaluate's false-positive case: 1,000 rows, labels and both predictions in runs of 5."""
    y, model, base = (np.repeat(rng.choice(3, 200), 5) for _ in range(3))
    return model == y, base == y, [y, model, base]


#: name, case, horizon, whether the model has a +5-point edge (else the true lift is 0)
CASES: list[tuple[str, Callable[..., Case], int, bool]] = [
    ("slow weak component (item 13), no edge", slow_weak, 1, False),
    ("50-bar regimes, no edge (test_dependence)", regimes, 1, False),
    ("overlapping 20-bar labels, no edge (test_dependence)", horizon20, 20, False),
    ("runs of 5, horizon 5, no edge (test_evaluate)", runs5, 5, False),
    ("iid rows, +5 points (test_dependence power)", iid, 1, True),
    ("50-bar regimes, +5 points (test_dependence power)", regimes, 1, True),
    ("slow weak component, +5 points", slow_weak, 1, True),
]


def rates(case: Callable[..., Case], horizon: int, edge: bool, reps: int, after: bool) -> dict[str, float]:
    rng = np.random.default_rng(2026)
    truth = 0.05 if edge else 0.0
    called = covered = 0
    blocks, draws = [], []
    for seed in range(reps):
        model_correct, base_correct, labels = case(rng, edge)
        test = lift_test(model_correct, base_correct, n_boot=N_BOOT, alpha=ALPHA, horizon=horizon,
                         random_state=seed, labels=labels if after else (),
                         max_boot=None if after else N_BOOT)
        called += test.verdict is Verdict.SIGNIFICANT_EDGE
        covered += test.ci_low <= truth <= test.ci_high
        blocks.append(test.block_length)
        draws.append(test.n_boot)
    return {"edge": called / reps, "covered": covered / reps, "block": float(np.median(blocks)),
            "draws": float(np.mean(draws))}


def table(reps: int) -> str:
    lines = [
        f"{reps} series per case and rule, {N:,} rows (runs of 5: 1,000), n_boot {N_BOOT:,}, alpha {ALPHA}; "
        "'edge' is the share called \"significant edge\" (false-positive rate where the lift is 0, power "
        "where it is +5 points); 'covers' the share whose 95% CI holds the true lift; 'block' the median "
        "block length; 'draws' the mean bootstrap draws (after: doubled near the verdict's boundary).",
        "",
        "| case | edge before | edge after | covers before | covers after | block before | block after | draws after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, case, horizon, edge in CASES:
        before = rates(case, horizon, edge, reps, after=False)
        after = rates(case, horizon, edge, reps, after=True)
        lines.append(f"| {name} | {before['edge']:.1%} | {after['edge']:.1%} | {before['covered']:.1%} | "
                     f"{after['covered']:.1%} | {before['block']:.0f} | {after['block']:.0f} | {after['draws']:.0f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--write", action="store_true", help="replace the section in benchmarks/results.md")
    args = parser.parse_args()
    started = time.perf_counter()
    body = table(args.reps)
    seconds = time.perf_counter() - started
    print(f"{seconds:.0f} s")
    if args.write:
        write_section("paired-coverage", "## Paired lift test: error rates before and after the persistence floor "
                      "(`benchmarks/paired_coverage.py`)\n\n" + body + f"\n\n({seconds:.0f} s on the shared 2-core machine.)")


if __name__ == "__main__":
    main()
