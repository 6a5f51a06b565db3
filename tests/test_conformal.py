"""Conformal sets (candor.conformal) against their coverage guarantees, on synthetic rows (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from candor.conformal import aci_alpha, aci_sets, conformal_quantile, lac_scores, prediction_sets


def _rows(n: int, rng: np.random.Generator, sharpness: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Three-class probabilities and labels drawn from them (a calibrated model)."""
    proba = rng.dirichlet(np.full(3, 1.0 / sharpness), size=n)
    y = np.array([rng.choice(3, p=p) for p in proba])
    return proba, y


def test_split_conformal_sets_cover_held_out_rows_at_the_target() -> None:
    rng = np.random.default_rng(0)
    proba, y = _rows(5000, rng)
    calibration, held_out = slice(0, 2000), slice(2000, 5000)
    for coverage in (0.8, 0.9):
        q = conformal_quantile(lac_scores(proba[calibration], y[calibration]), 1 - coverage)
        sets = prediction_sets(proba[held_out], q)
        covered = sets[np.arange(3000), y[held_out]].mean()
        assert abs(covered - coverage) <= 0.03, (coverage, covered)
        assert sets.sum(axis=1).mean() < 3  # not the trivial full set


def test_quantile_edges() -> None:
    scores = np.linspace(0, 1, 9)
    assert conformal_quantile(scores, 0.0) == np.inf and conformal_quantile(scores, -0.2) == np.inf
    assert conformal_quantile(scores, 1.0) == -np.inf
    assert conformal_quantile(scores, 0.05) == np.inf  # ⌈10 × 0.95⌉ = 10 > 9 scores: every class
    assert conformal_quantile(scores, 0.5) == scores[4]  # ⌈10 × 0.5⌉ = 5th smallest
    assert prediction_sets(np.array([[0.2, 0.3, 0.5]]), np.inf).all()
    assert not prediction_sets(np.array([[0.2, 0.3, 0.5]]), -np.inf).any()


def test_aci_keeps_coverage_under_drift_where_split_conformal_does_not() -> None:
    """Calibrated on a sharp, honest model; then the model turns overconfident and wrong more often.
    Split conformal under-covers; ACI stays within 3 points of the target and within its bound."""
    rng = np.random.default_rng(1)
    calib_p, calib_y = _rows(1000, rng)
    scores = lac_scores(calib_p, calib_y)
    proba, _ = _rows(3000, rng, sharpness=2.0)
    y = np.array([rng.choice(3, p=0.5 * p + 0.5 / 3) for p in proba])  # labels noisier than the model says
    alpha, gamma = 0.1, 0.01
    static = prediction_sets(proba, conformal_quantile(scores, alpha))[np.arange(3000), y].mean()
    sets, alphas = aci_sets(proba, y, scores, alpha, gamma)
    misses = ~sets[np.arange(3000), y]
    assert static < 0.9 - 0.03  # the drift is real
    assert abs((1 - misses.mean()) - 0.9) <= 0.03
    assert abs(misses.mean() - alpha) <= (max(alpha, 1 - alpha) + gamma) / (gamma * 3000)  # Gibbs & Candès 4.1
    assert aci_alpha(alpha, misses, gamma) == pytest.approx(alphas[-1] + gamma * (alpha - misses[-1]))
