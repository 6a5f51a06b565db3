"""Fused numba loops: the whole backtest in three passes over the data.

Why numba and not numpy: the probabilities arrive as an (n, 3) row-major block, so each class
column is a strided view, and a vectorised backtest allocates a fresh 8 MB temporary per step.
On the 2-core build machine the numpy version took ~90 ms of CPU for a million bars, against a
50 ms budget; these loops take a few milliseconds. ``cache=True`` keeps the compiled code in
``__pycache__`` so only the first run in a fresh checkout pays the compile (~seconds).

Conventions are documented in :mod:`candor.backtest.engine`; the loops only implement them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

TOLERANCE = 1e-6


@njit(cache=True, nogil=True)
def signal_weights(probs, short, min_conf, sized, out):  # type: ignore[no-untyped-def]
    """Fill ``out`` with target positions from ``probs`` (columns bear, neutral, bull).

    Returns (number of invalid rows, number of runs). A row is valid when every probability is
    >= 0 and the row sums to 1 (± TOLERANCE); NaN/inf fail. A class wins only with a strictly
    larger probability; ties stay flat. The loop has no data-dependent branch and constant
    column indices, so LLVM vectorises it over the row-major (n, 3) block predict_proba gives.
    The run count (entries into a non-zero side) bounds the number of trades.
    """
    runs, bad, prev = 0, 0, 0.0
    for i in range(out.size):
        a, b, c = probs[i, 0], probs[i, 1], probs[i, 2]
        s = a + b + c - 1.0
        low = min(min(a, b), c)
        bad += (s > TOLERANCE) | (s < -TOLERANCE) | (low < -TOLERANCE) | (s != s)
        top = max(max(a, b), c)
        side = np.float64((c > a) & (c > b)) - np.float64(short & (a > b) & (a > c))
        side = side if top >= min_conf else 0.0
        runs += (side != 0.0) & (side != prev)
        prev = side
        if sized:
            side *= min(max((top - 1.0 / 3.0) * 1.5, 0.0), 1.0)
        out[i] = side
    return bad, runs


@njit(cache=True, nogil=True)
def count_runs(weights):  # type: ignore[no-untyped-def]
    """Entries into a non-zero side: the number of trades (for signals with gaps in the bars)."""
    count, prev = 0, 0.0
    for w in weights:
        side = np.sign(w)
        count += (side != 0.0) & (side != prev)
        prev = side
    return count


@njit(cache=True, nogil=True)
def _close(k, j, t_end, t_ret, growth, costs):  # type: ignore[no-untyped-def]
    if k >= 0 and t_end[k] < 0:
        t_end[k] = j
        t_ret[k] = growth - 1.0 - costs


@njit(cache=True, nogil=True)
def simulate(weights, prices, rate, net, equity, hold_net, hold_eq, t_start, t_end, t_ret):  # type: ignore[no-untyped-def]
    """One pass: strategy and buy-and-hold returns and equity, and the trades.

    Returns ``(turnover, periods exposed, trades)``. A trade's return is the product of its
    gross period returns minus its costs: entry leg, resizing inside, exit leg when closed
    (``t_end`` stays -1 for a trade still open at the end: marked to the last price, no exit
    cost). Buy-and-hold equity: long 1 from the first execution price, entry cost once.
    """
    eq, prev, prev_side, turnover, exposed = 1.0, 0.0, 0.0, 0.0, 0
    k, growth, costs = -1, 1.0, 0.0
    hold_scale = (prices[1] / prices[0] - rate) / prices[1]  # cost charged on the first period
    for j in range(weights.size):
        w = weights[j]
        side = np.sign(w)
        delta = abs(w - prev)
        move = prices[j + 1] / prices[j] - 1.0
        gross = w * move
        net[j] = gross - rate * delta
        eq *= 1.0 + net[j]
        equity[j] = eq
        hold_net[j] = move
        hold_eq[j] = prices[j + 1] * hold_scale
        turnover += delta
        exposed += side != 0.0
        if side != prev_side:
            _close(k, j, t_end, t_ret, growth, costs + rate * abs(prev))
            if side != 0.0:
                k += 1
                t_start[k], t_end[k] = j, -1
                growth, costs = 1.0, rate * abs(w)
        else:
            costs += rate * delta
        growth *= 1.0 + gross
        prev, prev_side = w, side
    _close(k, -1, t_end, t_ret, growth, costs)
    hold_net[0] -= rate
    return turnover, exposed, k + 1


@njit(cache=True, nogil=True)
def stream_stats(net, equity, rf):  # type: ignore[no-untyped-def]
    """(mean, m2, m3, m4, downside mean square vs rf, max drawdown) of one return stream.

    Central moments are population moments from a second pass (stable for tiny returns);
    the drawdown counts the starting equity 1.0 as a peak.
    """
    n = equity.size
    total, down, peak, mdd = 0.0, 0.0, 1.0, 0.0
    for j in range(n):
        total += net[j]
        d = min(net[j] - rf, 0.0)
        down += d * d
        peak = max(peak, equity[j])
        if equity[j] < peak * (1.0 + mdd):
            mdd = equity[j] / peak - 1.0
    mean = total / n
    m2, m3, m4 = 0.0, 0.0, 0.0
    for j in range(n):
        d = net[j] - mean
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
    return mean, m2 / n, m3 / n, m4 / n, down / n, mdd


def weights_for(probs: np.ndarray, short: bool, min_conf: float | None, sized: bool):  # type: ignore[no-untyped-def]
    """Target positions, the number of invalid rows and the run count."""
    out = np.empty(probs.shape[0])
    threshold = -math.inf if min_conf is None else float(min_conf)
    bad, runs = signal_weights(probs, bool(short), threshold, bool(sized), out)
    return out, int(bad), int(runs)
