"""Freqtrade fixtures: one small champion per session (a real training, registered and promoted).

Why one training: ``run_training`` on 700 planted-signal bars (logreg, 3 folds) fills the store,
MLflow and the artifact exactly as ``candor train --promote`` does, in about ten seconds; the
tests only read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

SYMBOL, PAIR = "BTC-USDT", "BTC/USDT"
TRAIN_BARS, REPLAY_BARS = 700, 300
LENIENT = {"min_accuracy": 0.0, "min_precision": 0.0, "min_recall": 0.0, "min_f1": 0.0, "require_edge": False,
           "min_backtest_sharpe": None, "min_backtest_trades": None, "min_deflated_sharpe": None}


@dataclass(frozen=True)
class Series:
    """The trained series: its home, config, every bar, and the bars after the training span."""

    home: Path
    config: Any
    bars: pd.DataFrame
    name: str
    version: str
    warmup: int

    @property
    def replay(self) -> pd.DataFrame:
        """The warm-up before the first unseen bar, then every unseen bar (what both backtests read)."""
        part = self.bars.iloc[TRAIN_BARS - self.warmup:].copy()
        part.attrs = dict(self.bars.attrs)
        return part


def series_config(home: Path, **sections: Any) -> Any:
    from candor.config import load_config

    base: dict[str, Any] = {"home": str(home), "models": {"models": ["logreg"]}, "split": {"folds": 3},
                            "evaluation": {"importance_repeats": 0, "n_boot": 100},
                            "features": {"medium": 30, "long": 60}, "labels": {"threshold": 0.005},
                            "registry": LENIENT, **sections}
    return load_config(None, base, environ={})


@pytest.fixture(scope="session")
def series(tmp_path_factory) -> Series:
    from candor.data.synthetic import planted_signal
    from candor.services import open_services
    from candor.training.workflow import run_training

    home = tmp_path_factory.mktemp("freqtrade-home")
    config = series_config(home)
    bars = planted_signal(TRAIN_BARS + REPLAY_BARS, seed=3, symbol=SYMBOL, start="2021-01-01")
    train = bars.iloc[:TRAIN_BARS].copy()
    train.attrs = dict(bars.attrs)
    outcome = run_training(train, config, promote=True, actor="fixture")
    with open_services(config) as services:
        if not outcome.registered.promoted:
            services.registry.promote(outcome.registered.name, outcome.registered.version, force=True,
                                      actor="fixture", reason="fixture: first champion")
        champion = services.registry.champion(SYMBOL, "d1")
    return Series(home, config, bars, champion.name, champion.version, int(champion.model.manifest.warmup))
