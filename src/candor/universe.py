"""Train many series and summarise them in one table, continuing past failures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from candor.config import Config
from candor.errors import CandorError


@dataclass(frozen=True)
class UniverseRow:
    """One line of the universe summary: trained with its verdict, or failed with the reason."""

    name: str
    symbol: str
    timeframe: str
    status: str  # "trained" | "failed"
    samples: int | None = None
    accuracy: float | None = None
    best_baseline: str | None = None
    baseline_accuracy: float | None = None
    lift: float | None = None
    lift_ci_low: float | None = None
    lift_ci_high: float | None = None
    verdict: str | None = None
    reason: str | None = None
    artifact: str | None = None


def _train_dataset(name: str, config: Config, out: Path | None, dry_run: bool) -> UniverseRow:
    from candor.data.datasets import load_dataset
    from candor.workflow import run_training

    bars = load_dataset(name)
    symbol, timeframe = bars.attrs["symbol"], bars.attrs["timeframe"]
    try:
        outcome = run_training(bars, config, out=out, dry_run=dry_run)
    except CandorError as exc:
        return UniverseRow(name, symbol, timeframe, "failed", reason=str(exc))
    oos = outcome.result.oos
    return UniverseRow(
        name, symbol, timeframe, "trained", samples=outcome.result.n_samples, accuracy=oos.accuracy,
        best_baseline=oos.best_baseline, baseline_accuracy=oos.best_baseline_accuracy, lift=oos.lift,
        lift_ci_low=oos.lift_ci_low, lift_ci_high=oos.lift_ci_high, verdict=oos.verdict,
        artifact=str(outcome.artifact) if outcome.artifact else None,
    )


def train_datasets(
    names: Sequence[str],
    config: Config,
    *,
    out: Path | None = None,
    dry_run: bool = False,
    on_done: Callable[[UniverseRow], None] | None = None,
) -> list[UniverseRow]:
    """Train every named embedded dataset in turn; a failure is a row, not an abort."""
    rows = []
    for name in names:
        row = _train_dataset(name, config, out, dry_run)
        rows.append(row)
        if on_done is not None:
            on_done(row)
    return rows
