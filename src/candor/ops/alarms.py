"""A sequential test of live hits against the champion's out-of-sample accuracy, with a known false-alarm rate.

The rule (``candor drift``, one test per series × horizon × champion):

* Each resolved forecast is a hit (1) or a miss (0). Under the null the champion is as good live as
  out of sample: hits are independent with rate ``p ≥ p0`` (``p0`` = its walk-forward OOS accuracy).
  The alternative is a drop of ``drop`` points: ``p1 = p0 − drop`` (``drift.detect_drop``, 0.10).
* The statistic is the one-sided Bernoulli CUSUM (Page 1954) of the log-likelihood ratio
  ``log p1/p0`` per hit and ``log (1−p1)/(1−p0)`` per miss, reset at zero:
  ``S_n = max(0, S_{n−1} + llr_n)``. It is a function of the resolved forecasts in order, so it is
  recomputed on every run and needs no stored state.
* The alarm fires when ``S_n ≥ h``. ``h`` is the smallest threshold whose probability of an alarm
  within one year of stationary forecasts (``n_per_year`` hits at ``p = p0``, the worst case of the
  null: a better model only lowers ``S``) is at most the stated rate ``far``. That probability is
  computed, not approximated, by the Brook–Evans Markov chain of ``S`` on a fine lattice (a miss is
  200 cells; a hit's step is rounded towards zero, so the lattice's rate bounds the true one).
* The detection delay is read from the same chain under ``p = p1`` started at ``S = 0`` (the worst
  starting point): :func:`detection_delay` gives the number of resolved forecasts after a drop
  within which a given share (0.9) of drops is caught.

Everything here is numpy: the simulations in the tests and ``benchmarks/alarms.py`` use
:func:`cusum_paths`, which runs thousands of paths at once (``S = C − min(0, running min C)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: Lattice cells per miss step: the rounding of a hit step moves a path by under 1/200 of a miss.
_CELLS = 200


@dataclass(frozen=True)
class Cusum:
    """The test's reading on one sequence of hits: statistic, thresholds and what they mean."""

    p0: float
    p1: float
    n: int
    statistic: float
    threshold: float
    alarm: bool
    first_alarm: int | None  # 1-based index of the forecast at which S first reached the threshold


def llr_steps(p0: float, p1: float) -> tuple[float, float]:
    """(hit step, miss step) of the log-likelihood ratio of ``p1`` against ``p0``: negative, positive."""
    _check(p0, p1)
    return math.log(p1 / p0), math.log((1.0 - p1) / (1.0 - p0))


def cusum_paths(hits: np.ndarray, p0: float, p1: float) -> np.ndarray:
    """The CUSUM statistic after each hit/miss, along the last axis (any leading axes are paths)."""
    hit, miss = llr_steps(p0, p1)
    steps = np.where(np.asarray(hits, dtype=bool), hit, miss)
    total = np.cumsum(steps, axis=-1)
    return total - np.minimum(np.minimum.accumulate(total, axis=-1), 0.0)


def cusum(hits: np.ndarray, p0: float, p1: float, threshold: float) -> Cusum:
    """The test on one ordered sequence of hits (1) and misses (0)."""
    path = cusum_paths(np.asarray(hits, dtype=bool), p0, p1) if len(hits) else np.zeros(0)
    crossed = np.flatnonzero(path >= threshold)
    return Cusum(p0, p1, int(len(path)), float(path[-1]) if len(path) else 0.0, threshold,
                 bool(len(path) and path[-1] >= threshold), int(crossed[0]) + 1 if len(crossed) else None)


def alternative(p0: float, drop: float) -> float:
    """The hit rate the test is tuned to detect: ``p0 − drop``, kept inside (0.01, p0)."""
    return max(p0 - drop, 0.01)


# ---- the Markov chain of S on a lattice ---------------------------------------------------------------
def _lattice(p0: float, p1: float, slow: bool = False) -> tuple[float, int, int]:
    """(cell size, cells a miss adds, cells a hit removes). A hit's step is rounded towards zero
    (lattice S ≥ true S: its alarm rate bounds the true one) or, ``slow``, away from zero (its
    detection delay bounds the true one)."""
    hit, miss = llr_steps(p0, p1)
    cell = miss / _CELLS
    return cell, _CELLS, max(1, int(math.ceil(-hit / cell) if slow else math.floor(-hit / cell)))


def _survival(p: float, p0: float, p1: float, cells: int, steps: int, slow: bool = False) -> np.ndarray:
    """P(no alarm after k forecasts), k = 0..steps, for hit rate ``p`` and threshold ``cells`` cells."""
    _, up, down = _lattice(p0, p1, slow)
    dist = np.zeros(cells)
    dist[0] = 1.0
    alive = np.empty(steps + 1)
    alive[0] = 1.0
    for k in range(1, steps + 1):
        nxt = np.zeros(cells)
        if up < cells:
            nxt[up:] += (1.0 - p) * dist[: cells - up]        # a miss: up, or over the threshold (gone)
        nxt[0] += p * dist[:down].sum()                       # a hit near zero: reset to zero
        if down < cells:
            nxt[: cells - down] += p * dist[down:]            # a hit: down
        dist = nxt
        alive[k] = dist.sum()
    return alive


@lru_cache(maxsize=256)
def threshold_for(p0: float, p1: float, n_per_year: int, far: float) -> float:
    """The smallest CUSUM threshold with P(alarm within ``n_per_year`` stationary forecasts) ≤ ``far``."""
    if not 0.0 < far < 1.0:
        raise ValueError(f"the false-alarm rate must be in (0, 1). Got {far}.")
    cell, up, _ = _lattice(p0, p1)
    low, high = 1, up  # one miss step: an alarm after a single miss would be far too often
    while 1.0 - _survival(p0, p0, p1, high, n_per_year)[-1] > far:
        low, high = high, high * 2
    while high - low > 1:  # the rate falls as the threshold rises: bisect on whole cells
        mid = (low + high) // 2
        if 1.0 - _survival(p0, p0, p1, mid, n_per_year)[-1] > far:
            low = mid
        else:
            high = mid
    return high * cell


def false_alarm_rate(p0: float, p1: float, threshold: float, n: int) -> float:
    """P(an alarm within ``n`` stationary forecasts at ``p = p0``) for a threshold (lattice bound)."""
    cell = _lattice(p0, p1)[0]
    return float(1.0 - _survival(p0, p0, p1, max(1, math.ceil(threshold / cell - 1e-9)), n)[-1])


@lru_cache(maxsize=256)
def detection_delay(p0: float, p1: float, threshold: float, share: float = 0.9, limit: int = 20_000) -> int | None:
    """Resolved forecasts after a drop to ``p1`` within which ``share`` of drops raise the alarm (None: > limit).

    The chain starts at ``S = 0``, the slowest start: a stationary stretch before the drop leaves
    ``S ≥ 0``, so the delay after a real change point is at most this.
    """
    cell = _lattice(p0, p1)[0]
    cells = max(1, math.ceil(threshold / cell - 1e-9))
    step = 256
    while step <= limit:
        caught = 1.0 - _survival(p1, p0, p1, cells, step, slow=True)
        hit = np.flatnonzero(caught >= share)
        if len(hit):
            return int(hit[0])
        step *= 2
    return None


def _check(p0: float, p1: float) -> None:
    if not 0.0 < p1 < p0 < 1.0:
        raise ValueError(f"the CUSUM needs 0 < p1 < p0 < 1. Got p0 = {p0}, p1 = {p1}.")
