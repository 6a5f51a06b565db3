"""Freqtrade test helpers: the series' names and record, importable under a name no other test
folder uses (``from conftest import`` picked up whichever conftest came first on sys.path)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

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
