"""Out-of-sample evaluation: metrics, baselines, a block-bootstrap CI of the lift, one verdict.

Significance of "the model beats the best baseline":

* Per row, ``d_i = 1[model correct] − 1[best baseline correct]``; the lift is ``mean(d)``.
* Rows are serially dependent (overlapping label windows of ``horizon`` bars; regimes), so the
  bootstrap resamples whole blocks: a **paired circular block bootstrap** of ``d`` — the model
  and the baseline share every resampled block, which keeps their correlation. Block length
  ``L = max(horizon, round(n ** (1/3)))`` unless given; ``L < horizon`` is refused because a
  block shorter than a label window cuts dependent rows apart and understates the variance.
* CI: the percentile interval of the bootstrap lifts at level ``1 − alpha``.
* p-value (one-sided, H0: true lift ≤ 0): the bootstrap distribution of ``lift* − lift``
  approximates that of ``lift − true lift``; centred under H0 (true lift = 0), the chance of a
  lift at least as large as observed is ``p = (1 + #{lift*_b − lift ≥ lift}) / (1 + B)``
  (Hall & Wilson 1991). The +1 keeps p > 0 with finite B.
* Verdict (:class:`Verdict`): "significant edge" iff ``p < alpha`` and the CI's lower end is > 0.
* The best baseline is picked on the same rows (the max accuracy), which makes the test
  conservative, never optimistic.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
)

from candor.errors import ConfigError


class Verdict(StrEnum):
    """The lift test's answer in words.

    A ``StrEnum``: a member equals (and serialises as) its string, which is what JSON reports,
    MLflow tags and the ``training_runs.verdict`` column hold.
    """

    SIGNIFICANT_EDGE = "significant edge"
    NO_SIGNIFICANT_EDGE = "no significant edge"


@dataclass(frozen=True)
class EvaluationReport:
    """Every out-of-sample number for one set of predictions, beside its baselines."""

    n: int
    classes: tuple[Any, ...]
    accuracy: float
    balanced_accuracy: float
    precision: float
    recall: float
    f1: float
    precision_macro: float
    recall_macro: float
    f1_macro: float
    log_loss: float
    brier: float
    confusion_matrix: tuple[tuple[int, ...], ...]
    baselines: Mapping[str, float]
    best_baseline: str
    best_baseline_accuracy: float
    lift: float
    lift_ci_low: float
    lift_ci_high: float
    p_value: float
    verdict: Verdict
    alpha: float
    block_length: int
    n_boot: int
    horizon: int
    train_accuracy: float | None = None
    overfit_margin: float | None = None

    @property
    def significant(self) -> bool:
        """True when the verdict is :attr:`Verdict.SIGNIFICANT_EDGE`."""
        return self.verdict == Verdict.SIGNIFICANT_EDGE

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (plain floats/ints/strings/lists; class labels as Python scalars)."""
        out = dataclasses.asdict(self)
        out["classes"] = [_py(c) for c in self.classes]
        out["confusion_matrix"] = [list(row) for row in self.confusion_matrix]
        out["baselines"] = {str(k): float(v) for k, v in self.baselines.items()}
        out["verdict"] = str(self.verdict)
        return {k: _py(v) if not isinstance(v, list | dict) else v for k, v in out.items()}


def _py(value: Any) -> Any:
    """numpy scalar → Python scalar; NaN/inf → None (JSON has no NaN)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _check_inputs(y_true: Any, proba: Any, classes: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, p, c = np.asarray(y_true), np.asarray(proba, dtype=float), np.asarray(classes)
    if p.ndim != 2 or p.shape != (len(y), len(c)):
        raise ConfigError(
            f"`proba` must have shape (len(y_true), len(classes)) = ({len(y)}, {len(c)}); got {p.shape}."
        )
    if len(y) == 0:
        raise ConfigError("`y_true` is empty; there is nothing to evaluate.")
    if not np.all(np.isfinite(p)) or (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-6):
        raise ConfigError("`proba` rows must be finite, non-negative and sum to 1.")
    unknown = set(np.unique(y).tolist()) - set(c.tolist())
    if unknown:
        raise ConfigError(f"`y_true` holds labels {sorted(unknown)} that are not in `classes` {c.tolist()}.")
    return y, p / p.sum(axis=1, keepdims=True), c


def resolve_block_length(n: int, horizon: int, block: int | None = None) -> int:
    """Block length for the bootstrap: given, or ``max(horizon, round(n ** (1/3)))``; ≥ horizon."""
    if horizon < 1:
        raise ConfigError(f"`horizon` must be >= 1. Got {horizon}.")
    if block is None:
        block = max(horizon, round(n ** (1 / 3)))
    if block < horizon:
        raise ConfigError(
            f"`block` must be >= horizon ({horizon}) so a block spans a label window. Got {block}."
        )
    return int(min(block, n))


def block_bootstrap_means(d: np.ndarray, block: int, n_boot: int, random_state: int | None = 0) -> np.ndarray:
    """Means of ``n_boot`` circular block-bootstrap resamples of ``d`` (vectorised).

    Each resample concatenates ``ceil(n / block)`` blocks with uniform random starts on the
    circle and keeps the first ``n`` values; block sums come from one cumulative sum of
    ``d`` wrapped by ``block`` values, so the cost is O(n_boot · n / block).
    """
    d = np.asarray(d, dtype=float)
    n = len(d)
    k = math.ceil(n / block)
    lengths = np.full(k, block)
    lengths[-1] = n - block * (k - 1)
    csum = np.concatenate([[0.0], np.cumsum(np.concatenate([d, d[:block]]))])
    starts = np.random.default_rng(random_state).integers(0, n, size=(n_boot, k))
    sums = csum[starts + lengths] - csum[starts]
    return sums.sum(axis=1) / n


def lift_test(
    model_correct: np.ndarray, baseline_correct: np.ndarray, *, block: int, n_boot: int, alpha: float,
    random_state: int | None = 0,
) -> tuple[float, float, float, float]:
    """(lift, CI low, CI high, one-sided p) of the paired block bootstrap (module docstring)."""
    d = np.asarray(model_correct, float) - np.asarray(baseline_correct, float)
    lift = float(d.mean())
    boot = block_bootstrap_means(d, block, n_boot, random_state)
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    p = (1 + np.count_nonzero(boot - lift >= lift - 1e-12)) / (1 + n_boot)
    return lift, float(low), float(high), float(p)


def brier_multiclass(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """Mean over rows of Σ_k (p_k − 1[y = k])² (0 perfect, 2 worst)."""
    onehot = (y[:, None] == classes[None, :]).astype(float)
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def _classification_metrics(y: np.ndarray, pred: np.ndarray, proba: np.ndarray, c: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {
        "accuracy": float(accuracy_score(y, pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "log_loss": float(log_loss(y, proba, labels=c)),
        "brier": brier_multiclass(y, proba, c),
        "confusion_matrix": tuple(tuple(int(v) for v in row) for row in confusion_matrix(y, pred, labels=c)),
    }
    for avg, suffix in (("weighted", ""), ("macro", "_macro")):
        prec, rec, f1, _ = precision_recall_fscore_support(y, pred, labels=c, average=avg, zero_division=0)
        out.update({f"precision{suffix}": float(prec), f"recall{suffix}": float(rec), f"f1{suffix}": float(f1)})
    return out


def evaluate_oos(
    y_true: Any,
    proba: Any,
    classes: Any,
    *,
    baseline_preds: Mapping[str, Any],
    horizon: int,
    n_boot: int = 1000,
    alpha: float = 0.05,
    random_state: int | None = 0,
    train_accuracy: float | None = None,
    block: int | None = None,
) -> EvaluationReport:
    """Score out-of-sample probabilities against baselines with a block-bootstrap lift test.

    ``proba`` columns follow ``classes``; the prediction is the argmax. ``baseline_preds``
    maps a baseline name to its predicted labels on the same rows (at least one).
    """
    y, p, c = _check_inputs(y_true, proba, classes)
    if not baseline_preds:
        raise ConfigError("`baseline_preds` is empty; give at least one baseline (e.g. majority).")
    if not 0 < alpha < 1 or n_boot < 1:
        raise ConfigError(f"`alpha` must be in (0, 1) and `n_boot` >= 1. Got alpha={alpha}, n_boot={n_boot}.")
    pred = c[np.argmax(p, axis=1)]
    base_correct = {name: _correct(y, b, name) for name, b in baseline_preds.items()}
    base_acc = {name: float(v.mean()) for name, v in base_correct.items()}
    best = max(base_acc, key=lambda k: base_acc[k])
    L = resolve_block_length(len(y), horizon, block)
    lift, low, high, pval = lift_test(
        pred == y, base_correct[best], block=L, n_boot=n_boot, alpha=alpha, random_state=random_state
    )
    metrics = _classification_metrics(y, pred, p, c)
    verdict = Verdict.SIGNIFICANT_EDGE if pval < alpha and low > 0 else Verdict.NO_SIGNIFICANT_EDGE
    margin = None if train_accuracy is None else float(train_accuracy) - metrics["accuracy"]
    return EvaluationReport(
        n=len(y), classes=tuple(_py(v) for v in c), **metrics, baselines=base_acc, best_baseline=best,
        best_baseline_accuracy=base_acc[best], lift=lift, lift_ci_low=low, lift_ci_high=high, p_value=pval,
        verdict=verdict, alpha=alpha, block_length=L, n_boot=n_boot, horizon=horizon,
        train_accuracy=None if train_accuracy is None else float(train_accuracy), overfit_margin=margin,
    )


def _correct(y: np.ndarray, pred: Any, name: str) -> np.ndarray:
    pred = np.asarray(pred)
    if pred.shape != y.shape:
        raise ConfigError(f"baseline {name!r} has {pred.shape[0] if pred.ndim else 0} predictions for {len(y)} rows.")
    return pred == y


def calibration_table(y_true: Any, proba: Any, classes: Any, n_bins: int = 10) -> pd.DataFrame:
    """Reliability table on the top-class confidence: equal-width bins over [0, 1].

    Columns: bin, lower, upper, mean_confidence, accuracy, count (empty bins are kept with
    count 0 and NaN means, so tables from different runs line up).
    """
    if n_bins < 1:
        raise ConfigError(f"`n_bins` must be >= 1. Got {n_bins}.")
    y, p, c = _check_inputs(y_true, proba, classes)
    conf = p.max(axis=1)
    correct = (c[np.argmax(p, axis=1)] == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, weights=conf, minlength=n_bins) / count
        acc = np.bincount(bins, weights=correct, minlength=n_bins) / count
    return pd.DataFrame({
        "bin": np.arange(n_bins), "lower": edges[:-1], "upper": edges[1:],
        "mean_confidence": mean_conf, "accuracy": acc, "count": count,
    })


def permutation_importance_oos(
    model: Any, X: pd.DataFrame, y: Any, *, n_repeats: int = 5, random_state: int | None = 0, top: int = 20,
    scoring: str = "accuracy",
) -> pd.DataFrame:
    """Permutation importance on OUT-OF-SAMPLE rows (``X``, ``y`` must be unseen by ``model``).

    In-sample permutation importance rewards memorised features; on unseen rows it measures
    what the model can actually use. Returns columns feature, importance, std (top ``top``).
    """
    result = permutation_importance(
        model, X, np.asarray(y), n_repeats=n_repeats, random_state=random_state, scoring=scoring, n_jobs=1
    )
    names = list(X.columns) if hasattr(X, "columns") else [f"x{i}" for i in range(np.shape(X)[1])]
    table = pd.DataFrame({"feature": names, "importance": result.importances_mean, "std": result.importances_std})
    return table.sort_values("importance", ascending=False, kind="stable").head(top).reset_index(drop=True)
