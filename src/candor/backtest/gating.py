"""The registry's backtest gate thresholds, built from the one config.

Why a helper here rather than in :mod:`candor.registry.gates`: the registry takes whatever
:class:`~candor.registry.gates.BacktestThresholds` it is given and never reads the config (house
rule 4: defaults live only in :mod:`candor.config`); this is the one place that maps the config's
names (seed 002's ``min_backtest_sharpe`` / ``min_backtest_trades``, plus ``min_deflated_sharpe``)
onto the gate's.
"""

from __future__ import annotations

from candor.config import RegistryConfig
from candor.registry.gates import BacktestThresholds


def backtest_thresholds(registry: RegistryConfig) -> BacktestThresholds:
    """The backtest gate's minimums from ``config.registry``; a ``None`` field disables that check."""
    return BacktestThresholds(
        min_sharpe=registry.min_backtest_sharpe,
        min_trades=registry.min_backtest_trades,
        min_deflated_sharpe=registry.min_deflated_sharpe,
    )
