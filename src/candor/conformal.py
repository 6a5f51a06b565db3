"""Conformal prediction sets for the direction classes, kept valid under drift by adaptive
conformal inference (ACI). Written here in numpy (about 40 lines; MAPIE is not a dependency).

Why these choices:

* **Score.** The LAC score ``s(x, y) = 1 − p̂(y | x)`` (Sadinle, Lei & Wasserman 2019): the set at
  level ``1 − α`` is every class whose probability is at least ``1 − q̂``, where ``q̂`` is the
  conformal quantile of the calibration scores — the smallest sets among score choices, and one
  number per calibration row to store.
* **Calibration rows.** The champion's own out-of-sample rows (the holdout, scored by the served
  model; the pooled walk-forward rows when there is no holdout), newest :data:`MAX_SCORES` kept in
  the training report (:class:`candor.records.report.ConformalCalibration`).
* **Drift.** Split conformal is valid only for exchangeable rows; markets drift. ACI (Gibbs &
  Candès, 2021) updates the level as forecasts resolve, ``α_{t+1} = α_t + γ (α − err_t)`` with
  ``err_t = 1`` when the realised class was outside the set: sets widen after misses and narrow
  after hits, and over any T resolved forecasts the miss rate is within
  ``(max(α, 1 − α) + γ) / (γ T)`` of α whatever the data do (their Proposition 4.1).
  :func:`aci_alpha` replays the resolved forecasts' hits and misses, so the state is the
  forecasts table itself — nothing else to store or lose.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

#: Calibration scores kept per model (newest rows): the quantile's resolution is 1 / MAX_SCORES.
MAX_SCORES = 2000


def lac_scores(proba: np.ndarray, y_index: np.ndarray) -> np.ndarray:
    """Nonconformity ``1 − p̂(true class)`` of each row; ``y_index`` is the true class's column."""
    proba = np.asarray(proba, dtype=float)
    return 1.0 - proba[np.arange(len(proba)), np.asarray(y_index, dtype=int)]


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The split-conformal threshold: the ⌈(n + 1)(1 − α)⌉-th smallest score.

    ``alpha ≤ 0`` (or too few scores for the level) gives ``inf`` (every class in the set);
    ``alpha ≥ 1`` gives ``-inf`` (the empty set), as ACI's α_t may leave [0, 1].
    """
    scores = np.sort(np.asarray(scores, dtype=float))
    n = len(scores)
    if alpha >= 1.0:
        return -np.inf
    rank = int(np.ceil((n + 1) * (1.0 - alpha))) if alpha > 0 else n + 1
    return float(scores[rank - 1]) if 1 <= rank <= n else (np.inf if rank > n else -np.inf)


def prediction_sets(proba: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean membership (rows × classes): class ``k`` is in the set when ``1 − p̂_k ≤ threshold``."""
    return 1.0 - np.asarray(proba, dtype=float) <= threshold + 1e-12


def aci_alpha(alpha: float, misses: Iterable[bool], gamma: float) -> float:
    """α_t after the resolved forecasts' hits and misses (oldest first), from ``α_1 = alpha``."""
    errors = np.fromiter((bool(m) for m in misses), dtype=float)
    return float(alpha + gamma * np.sum(alpha - errors))


def aci_sets(proba: np.ndarray, y_index: np.ndarray, scores: np.ndarray, alpha: float,
             gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """Online ACI over rows in time order, each resolving before the next: (sets, α_t per row).

    The same rule the forecast job applies one forecast at a time (tests replay it on synthetic
    and drifting rows).
    """
    proba = np.asarray(proba, dtype=float)
    sets = np.zeros(proba.shape, dtype=bool)
    alphas = np.empty(len(proba))
    level = alpha
    for t, row in enumerate(proba):
        alphas[t] = level
        sets[t] = prediction_sets(row[None, :], conformal_quantile(scores, level))[0]
        level += gamma * (alpha - float(not sets[t, int(y_index[t])]))
    return sets, alphas
