"""Run artifacts of a backtest: equity/drawdown PNG and the trade list CSV.

Both are written to a temporary file beside the target and moved into place, so a crash never
leaves a half-written artifact. matplotlib is imported lazily with the Agg
backend: the backtest itself never needs it, and servers have no display.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from candor.backtest.engine import BacktestResult
from candor.backtest.metrics import drawdown
from candor.outputs import write_atomic

MAX_POINTS = 4000  # a PNG 1,200 px wide cannot show more; a million points would take seconds


def plot_equity(result: BacktestResult, path: str | os.PathLike[str]) -> Path:
    """Equity vs buy-and-hold (log scale) on top, strategy drawdown below; returns the path."""
    import matplotlib  # lazy: only plots need matplotlib (~0.2 s to import); Agg must be set before pyplot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: after matplotlib.use("Agg"), so no display is needed
    from matplotlib.ticker import FormatStrFormatter  # lazy: only plots need matplotlib

    index, equity, hold, dd = _decimated(result)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    try:
        m, b = result.metrics, result.buy_and_hold
        top.plot(index, equity, color="#1f5fa8", lw=1.4, label=f"strategy (Sharpe {m.sharpe:.2f})")
        top.plot(index, hold, color="#888888", lw=1.0, label=f"buy & hold (Sharpe {b.sharpe:.2f})")
        top.axhline(1.0, color="black", lw=0.6, ls=":")
        top.set_yscale("log")
        top.yaxis.set_major_formatter(FormatStrFormatter("%.2f"))  # not 9×10⁻¹
        top.yaxis.set_minor_formatter(FormatStrFormatter("%.2f"))
        top.set_ylabel("equity (start = 1, log)")
        top.set_title(_title(result), fontsize=10)
        top.legend(loc="upper left", frameon=False)
        top.grid(alpha=0.3)
        bottom.fill_between(index, dd * 100.0, 0.0, color="#c0392b", alpha=0.5, lw=0)
        bottom.set_ylabel("drawdown %")
        bottom.grid(alpha=0.3)
        fig.tight_layout()
        return _atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        plt.close(fig)


def write_trades_csv(result: BacktestResult, path: str | os.PathLike[str]) -> Path:
    """One row per trade (entry/exit ts in ISO UTC, side, prices, net return, bars held)."""
    return _atomic(path, lambda tmp: result.trades.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%SZ"))


def _title(result: BacktestResult) -> str:
    m, s = result.metrics, result.sharpe
    return (
        f"{result.config.execution}, cost {result.config.cost_bps + result.config.slippage_bps:g} bps — "
        f"return {m.total_return:+.1%}, max DD {m.max_drawdown:.1%}, trades {m.n_trades}, "
        f"PSR {s.psr:.2f}, DSR {s.dsr:.2f} ({s.n_trials} trial(s))"
    )


def _decimated(result: BacktestResult) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, np.ndarray]:
    """At most ~MAX_POINTS points; the drawdown keeps each bucket's worst value."""
    equity = result.equity.to_numpy()
    hold = result.buy_and_hold_equity.to_numpy()
    dd = drawdown(equity)
    step = max(1, -(-equity.size // MAX_POINTS))
    starts = np.arange(0, equity.size, step)
    return result.equity.index[starts], equity[starts], hold[starts], np.minimum.reduceat(dd, starts)


def _atomic(path: str | os.PathLike[str], write) -> Path:  # type: ignore[no-untyped-def]
    return write_atomic(path, lambda tmp: write(str(tmp)), what=f"backtest {Path(path).suffix.lstrip('.') or 'file'}")
