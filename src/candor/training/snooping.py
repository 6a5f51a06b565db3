"""The error of a search itself: which cells' edges survive having tried them all, and the PBO.

A research grid tries many cells (series × horizon × label × members × features); the best of
them looks significant by luck. Three pieces judge the search as a whole:

* **Within a series — Romano–Wolf stepdown on Hansen's SPA** (:func:`romano_wolf`). The cells of
  one series are compared with the baseline on the rows they all predicted out of sample: per row
  the loss difference ``d = 1[model correct] − 1[best baseline correct]`` (the paired test's
  rows). :class:`arch.bootstrap.StepM` (Romano & Wolf 2005, on :class:`arch.bootstrap.SPA`,
  Hansen 2005, "consistent" recentring) decides which cells are superior at family-wise error
  ``alpha``; the same SPA's stepdown p-values are each cell's adjusted p-value (the top remaining
  cell's SPA p-value on the remaining cells, made monotone). The bootstrap is the circular block
  bootstrap with candor's block rule: the longest block any of the cells' own paired tests used
  (:func:`candor.evaluate.resolve_block_length`: ≥ horizon, Politis–White × 2, persistence floor).
  A cell whose mean ``d`` is not above 0 cannot be superior: its adjusted p-value is 1.
* **Across series — Benjamini–Hochberg, then the selected families** (:func:`across_series`).
  Each series' family p-value (its SPA p-value, the best cell's adjusted p) is adjusted by BH
  across the series (:mod:`candor.training.multiplicity`); of the R series selected out of m, a
  cell survives where its within-series adjusted p-value is below ``alpha · R / m``
  (Benjamini & Bogomolov 2014, selective inference on families). Reported: ``p_adjusted =
  max(q_series, min(1, p_within · m / R))`` (``R = 1`` when none is selected), never below the
  cell's own paired-test p-value (the SPA bootstrap refers its statistic to the resampled means
  directly, where candor's paired test uses a Student t on the ~n / L blocks: with few blocks the
  bootstrap's p can be the smaller one, and an adjusted p below the raw one would read as a
  search that made a cell *more* significant); a cell survives exactly when ``p_adjusted <
  alpha`` and its lift is positive. This controls the false
  discovery rate of "this series has an edge" and, on average over the selected series, the
  family-wise error of "this cell has it".
* **Probability of Backtest Overfitting** by combinatorially symmetric cross-validation
  (:func:`pbo_cscv`; Bailey, Borwein, López de Prado & Zhu 2017), over every evaluated cell.
  Written here (arch has none; the algorithm is a few lines): each cell's out-of-sample rows are
  cut into ``S`` contiguous blocks in time order (cells of different series or row counts are
  lined up by block, not by timestamp); for every half of the blocks, the cell best on that half
  (mean ``d``) is ranked on the other half; ``ω = rank / (N + 1)``, ``λ = ln(ω / (1 − ω))``, and
  PBO is the share of splits with ``λ ≤ 0`` — the in-sample winner at or below the out-of-sample
  median.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from candor.errors import ConfigError
from candor.training.multiplicity import adjust_p_values


@dataclass(frozen=True)
class FamilyTest:
    """The cells of one series judged together (Romano–Wolf stepdown on SPA)."""

    p_adjusted: np.ndarray  # per cell, in input order
    spa_p_value: float  # the family's: no cell beats the baseline
    superior: tuple[int, ...]  # StepM's superior cells at `alpha` (indices)
    block_length: int
    n_rows: int


def romano_wolf(d: np.ndarray, *, block: int, reps: int, alpha: float, seed: int | None = 0) -> FamilyTest:
    """Romano–Wolf stepdown over the columns of ``d`` (rows × cells, larger is better; module
    docstring). ``block``: circular-bootstrap block length; ``reps``: resamples."""
    from arch.bootstrap import StepM  # arch is heavy; only a search needs it

    d = np.asarray(d, dtype=float)
    if d.ndim != 2 or d.shape[1] < 1 or d.shape[0] < 2:
        raise ConfigError(f"`d` must be rows × cells with at least 2 rows and 1 cell; got shape {d.shape}.")
    n, k = d.shape
    block = int(max(1, min(block, n)))
    # arch takes losses: benchmark − model = d with a zero benchmark and model losses −d
    stepm = StepM(np.zeros(n), -d, size=alpha, block_size=block, reps=reps, bootstrap="circular", seed=seed)
    stepm.compute()
    spa, means = stepm.spa, d.mean(axis=0)
    order = np.argsort(-means, kind="stable")
    p_adjusted, running = np.ones(k), 0.0
    for step, j in enumerate(order):
        if means[j] <= 0:
            break  # no superiority to show; these stay at 1
        selector = np.ones(k, dtype=bool)
        selector[order[:step]] = False
        spa.subset(selector)
        spa.compute()
        running = max(running, float(spa.pvalues["consistent"]))
        p_adjusted[j] = running
    spa.subset(np.ones(k, dtype=bool))
    spa.compute()
    family = float(spa.pvalues["consistent"]) if means.max() > 0 else 1.0
    superior = tuple(int(i) for i in stepm.superior_models if means[int(i)] > 0)
    return FamilyTest(p_adjusted, family, superior, block, n)


@dataclass(frozen=True)
class AcrossSeries:
    """Per series its BH-adjusted family p-value; R of m series selected at ``alpha``."""

    q: np.ndarray
    selected: int
    n_series: int


def across_series(family_p: Sequence[float], alpha: float) -> AcrossSeries:
    """Benjamini–Hochberg over the series' family p-values (module docstring)."""
    q = adjust_p_values(list(family_p), "bh")
    return AcrossSeries(q, int(np.sum(q < alpha)), len(q))


def cell_p_adjusted(p_within: float, q_series: float, across: AcrossSeries) -> float:
    """A cell's reported adjusted p-value: ``max(q_series, min(1, p_within · m / R))``."""
    return float(max(q_series, min(1.0, p_within * across.n_series / max(1, across.selected))))


@dataclass(frozen=True)
class PBO:
    """Probability of Backtest Overfitting over ``n_cells`` cells, ``n_blocks`` blocks each."""

    pbo: float
    n_cells: int
    n_blocks: int
    n_splits: int
    logits: np.ndarray


def block_means(rows: Sequence[np.ndarray], n_blocks: int) -> np.ndarray:
    """``n_blocks × cells``: each cell's values cut into ``n_blocks`` contiguous blocks, averaged."""
    return np.column_stack([[chunk.mean() for chunk in np.array_split(np.asarray(r, float), n_blocks)]
                            for r in rows])


def pbo_cscv(performance: np.ndarray) -> PBO:
    """PBO by CSCV of a ``blocks × cells`` matrix of per-block performance (module docstring).

    Every split of the ``S`` (even) blocks into two halves is one in-sample / out-of-sample
    pair; ties in the out-of-sample ranking share their average rank.
    """
    m = np.asarray(performance, dtype=float)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ConfigError(f"PBO needs a blocks × cells matrix with at least 2 cells; got shape {m.shape}.")
    s, n = m.shape
    if s < 2 or s % 2:
        raise ConfigError(f"PBO needs an even number of blocks (at least 2); got {s}.")
    halves = np.array([np.isin(np.arange(s), c) for c in combinations(range(s), s // 2)])
    in_sample = halves @ m / (s // 2)
    out_sample = (~halves) @ m / (s // 2)
    best = in_sample.argmax(axis=1)
    chosen = out_sample[np.arange(len(best)), best][:, None]
    # the chosen cell's average rank among the out-of-sample values (ties share their mean rank)
    ranks = (out_sample < chosen).sum(axis=1) + ((out_sample == chosen).sum(axis=1) + 1) / 2
    omega = ranks / (n + 1)
    logits = np.log(omega / (1 - omega))
    return PBO(float(np.mean(logits <= 0)), n, s, len(halves), logits)


#: Blocks per cell for CSCV (Bailey et al. use 16: C(16, 8) = 12,870 splits).
PBO_BLOCKS = 16


def pbo_of_cells(rows: Sequence[np.ndarray], n_blocks: int = PBO_BLOCKS) -> PBO | None:
    """PBO over cells given their per-row ``d`` (time order); None with fewer than 2 cells.

    ``n_blocks`` drops to the largest even number ≤ the fewest rows any cell has."""
    if len(rows) < 2:
        return None
    fewest = min(len(r) for r in rows)
    s = min(n_blocks, fewest - fewest % 2)
    if s < 2:
        return None
    return pbo_cscv(block_means(rows, s))
