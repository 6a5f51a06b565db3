"""The trade list (found by :func:`candor.backtest.kernels.simulate`): a trade is a maximal run of periods whose
position keeps the same side (long or short); resizing inside the run stays in the same trade.

For a run over periods [b, e) of the grid (period j runs from price[j] to price[j + 1]):

* entry at the execution price ``price[b]`` on bar ``ts[b]``; exit at ``price[e]`` on ``ts[e]``,
  the execution bar of the signal that closed or reversed it. A run still open at the end is
  marked to the last price and flagged ``closed = False`` (no exit cost charged).
* ``return`` = Π(1 + position·price return) over the run − 1, minus its costs: the entry leg
  ``c·|w_b|``, resizing ``c·Σ|Δw|`` inside the run and the exit leg ``c·|w_{e−1}|`` when closed.
  A reversal's cost ``c·(|w_old| + |w_new|)`` is thus split exactly between the two trades, and
  the trades' costs add up to the strategy's costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TRADE_COLUMNS = (
    "entry_ts", "exit_ts", "side", "entry_price", "exit_price", "return", "bars_held", "closed",
)


@dataclass(frozen=True)
class TradeRuns:
    """Trade boundaries and net returns as arrays (the DataFrame is built from these)."""

    start: np.ndarray
    end: np.ndarray
    side: np.ndarray
    returns: np.ndarray
    closed: np.ndarray


def trades_frame(runs: TradeRuns, price: np.ndarray, ts: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per trade; ``price``/``ts`` are the grid's execution prices and bars (M + 1)."""
    return pd.DataFrame(
        copy=False,
        data={
            "entry_ts": ts[runs.start],
            "exit_ts": ts[runs.end],
            "side": runs.side,
            "entry_price": price[runs.start],
            "exit_price": price[runs.end],
            "return": runs.returns,
            "bars_held": (runs.end - runs.start).astype(np.int64),
            "closed": runs.closed,
        },
        columns=list(TRADE_COLUMNS),
    )
