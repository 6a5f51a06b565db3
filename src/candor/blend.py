"""The blend: how member probabilities become one forecast, learnt from out-of-fold rows only.

Weights fit on the very validation rows that are then reported share those rows with the score, so
the score is optimistic. A :class:`Blend` is therefore fit only on *out-of-fold* (OOF) member
probabilities — predictions each member made on rows it never trained on — and learns two things
from them: the member weights (``method``: non-negative Ridge, a stacking meta-model, or equal) and
the class prior's share λ. Its output is ``(1 − λ) · blend + λ · prior`` with ``λ ∈ [0, 1]``
minimising the log-loss of the same OOF rows (``prior_weight_``): where the members carry no
information that holds out of sample, λ goes to 1 and the blend says what the class frequencies
say — instead of the confident noise a member fitted on one fold produces; where they do, λ stays
small. Where the OOF rows come from is the caller's business (:mod:`candor.ensemble`).

Where λ cannot be fit — fewer than ``MIN_PRIOR_ROWS`` OOF rows (fold 0 without a warm-up block),
or, for stacking, no row the meta-model can predict out of fold — it is 1: the blend says the
prior, the one forecast known not to be worse than the prior (λ = 0 there served the raw blend of
members nobody had checked, worse than the prior on GOOGL daily). With ``method = "stacking"``
the meta-model is itself fit on the OOF rows, so its probabilities on those rows are in-sample
and λ fit on them is always ≈ 0; λ is therefore fit on the meta-model's *cross-fitted*
probabilities (``STACKING_FOLDS`` contiguous blocks of the OOF rows, each predicted by a
meta-model fit on the others), while the served meta-model is fit on every OOF row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.validation import check_is_fitted

from candor.errors import ConfigError, ModelError

METHODS = ("ridge", "stacking", "equal")
#: Fewer out-of-fold rows than this and λ is not fit: the blend says the prior (λ = 1).
MIN_PRIOR_ROWS = 20
#: Contiguous blocks of the OOF rows the stacking meta-model is cross-fitted on for λ.
STACKING_FOLDS = 5
_FIX = "Fix: use fewer folds (or inner_splits), a longer history, or a wider label threshold."


def align_proba(proba: np.ndarray, member_classes: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Spread ``proba`` (columns = ``member_classes``) over ``classes``; absent classes get 0.

    Needed when an inner training fold lacked a class: that member cannot predict it.
    """
    out = np.zeros((proba.shape[0], len(classes)))
    out[:, np.searchsorted(classes, member_classes)] = proba
    return out


class Blend(BaseEstimator):
    """Member weights and the class prior's share λ, learnt from out-of-fold member probabilities.

    ``fit(member_proba, y, class_prior=None, classes=None)``: ``member_proba`` maps each member's
    name to its OOF probabilities (rows aligned with ``y``, one column per class of ``classes``,
    default ``np.unique(y)``); ``class_prior`` (aligned with ``classes``, default the class
    frequencies of ``y``) is the training rows' class mix the blend shrinks toward. The members'
    order is the mapping's order. ``predict_proba(member_proba)`` takes member probabilities of
    new rows in the same layout.

    ``method``: ``"ridge"`` (non-negative Ridge of the signed label on each member's expected
    direction), ``"stacking"`` (logistic meta-model on the concatenated probabilities) or
    ``"equal"``; one member always gets weight 1. ``balanced``: the members were trained
    class-balanced, so with ``prior_correction`` the weighted average is turned back into the
    real class mix by Bayes' rule. ``shrink_to_prior=False`` keeps λ at 0; ``prior_weight``, when
    given, is used as λ instead of fitting it (the weekly refit keeps the champion's).

    Fitted: ``classes_``, ``class_prior_``, ``weights_`` (name → weight; for stacking each
    member's share of the meta-model's |coefficients|), ``meta_model_`` (stacking only, else
    None), ``prior_weight_`` (λ; 1 where it cannot be fit — module docstring).
    """

    def __init__(self, method: str = "ridge", *, alpha: float = 1.0, shrink_to_prior: bool = True,
                 prior_weight: float | None = None, prior_correction: bool = True, balanced: bool = False,
                 random_state: int = 0) -> None:
        self.method = method
        self.alpha = alpha
        self.shrink_to_prior = shrink_to_prior
        self.prior_weight = prior_weight
        self.prior_correction = prior_correction
        self.balanced = balanced
        self.random_state = random_state

    def fit(self, member_proba: Mapping[str, np.ndarray], y: Any, class_prior: Any = None,
            classes: Any = None) -> Blend:
        """Weights (or meta-model), then λ, from the OOF rows ``member_proba`` / ``y``."""
        if self.method not in METHODS:
            raise ConfigError(f"`method` must be one of {', '.join(METHODS)}. Got {self.method!r}.")
        if self.alpha < 0:
            raise ConfigError(f"`alpha` (Ridge penalty) must be >= 0. Got {self.alpha!r}.")
        if self.prior_weight is not None and not 0.0 <= self.prior_weight <= 1.0:
            raise ConfigError(f"`prior_weight` must be in [0, 1] or None (fit it). Got {self.prior_weight!r}.")
        y = np.asarray(y)
        proba = self._checked(member_proba, y, classes)
        if class_prior is None:
            class_prior = np.array([np.mean(y == c) for c in self.classes_]) if len(y) else None
        if class_prior is None or len(class_prior) != len(self.classes_):
            raise ModelError(f"`class_prior` must give one share per class of {self.classes_.tolist()}; "
                             f"got {class_prior!r}.")
        self.class_prior_ = np.asarray(class_prior, dtype=float)
        self.meta_model_ = None
        self.prior_weight_ = 0.0
        self.weights_ = self._weights(proba, y)
        if self.prior_weight is not None:
            self.prior_weight_ = float(self.prior_weight)
        elif self.shrink_to_prior:
            self.prior_weight_ = self._fit_prior_weight(proba, y)
        return self

    def _fit_prior_weight(self, proba: dict[str, np.ndarray], y: np.ndarray) -> float:
        """λ on OOF rows the blend did not learn from; 1 (the prior) where it cannot be fit."""
        if len(y) < MIN_PRIOR_ROWS:
            return 1.0
        if self.meta_model_ is None:
            return prior_weight(self._blended(proba), y, self.classes_, self.class_prior_)
        rows, blended = self._cross_fitted(proba, y)
        if len(rows) < MIN_PRIOR_ROWS:
            return 1.0
        return prior_weight(blended, y[rows], self.classes_, self.class_prior_)

    def _cross_fitted(self, proba: dict[str, np.ndarray], y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, probabilities) of the stacking meta-model on each of ``STACKING_FOLDS`` contiguous
        blocks of the OOF rows, fit on the other blocks (a block whose complement holds one class
        is left out)."""
        Z = np.hstack([proba[name] for name in self.weights_])
        rows, out = [], []
        for block in np.array_split(np.arange(len(y)), STACKING_FOLDS):
            rest = np.setdiff1d(np.arange(len(y)), block)
            if len(block) == 0 or len(np.unique(y[rest])) < 2:
                continue
            meta = clone(self.meta_model_).fit(Z[rest], y[rest])
            rows.append(block)
            out.append(align_proba(meta.predict_proba(Z[block]), meta.classes_, self.classes_))
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(self.classes_)))
        return np.concatenate(rows), np.vstack(out)

    def _checked(self, member_proba: Mapping[str, np.ndarray], y: np.ndarray, classes: Any) -> dict[str, np.ndarray]:
        if not member_proba:
            raise ConfigError("`member_proba` must map at least one member name to its probabilities. Got none.")
        self.classes_ = np.unique(y) if classes is None else np.asarray(classes)
        proba = {str(name): np.asarray(p, dtype=float) for name, p in member_proba.items()}
        for name, p in proba.items():
            if p.shape != (len(y), len(self.classes_)):
                raise ModelError(f"member {name!r} gives probabilities of shape {p.shape}; the blend needs "
                                 f"({len(y)} rows, {len(self.classes_)} classes {self.classes_.tolist()}).")
        return proba

    def _weights(self, proba: dict[str, np.ndarray], y: np.ndarray) -> dict[str, float]:
        names = list(proba)
        if len(names) == 1:
            return {names[0]: 1.0}
        if self.method == "equal":
            return {name: 1.0 / len(names) for name in names}
        if len(y) < 2:
            raise ModelError(f"method={self.method!r} needs out-of-fold rows to fit member weights; got "
                             f"{len(y)}. {_FIX}")
        if self.method == "stacking":
            return self._fit_stacking(proba, names, y)
        return _ridge_weights(proba, names, y, self.classes_, self.alpha)

    def _fit_stacking(self, proba: dict[str, np.ndarray], names: list[str], y: np.ndarray) -> dict[str, float]:
        """Logistic meta-model on concatenated OOF probabilities.

        ``weights_`` then reports each member's share of the meta-model's |coefficient| mass:
        a summary for the report, not what ``predict_proba`` multiplies.
        """
        if len(np.unique(y)) < 2:
            raise ModelError(f"out-of-fold rows hold a single class; stacking needs 2 or more. {_FIX}")
        Z = np.hstack([proba[name] for name in names])
        self.meta_model_ = LogisticRegression(
            class_weight="balanced" if self.balanced else None, max_iter=5000, random_state=self.random_state
        ).fit(Z, y)
        k = len(self.classes_)
        mass = np.array([np.abs(self.meta_model_.coef_[:, i * k:(i + 1) * k]).sum() for i in range(len(names))])
        share = mass / mass.sum() if mass.sum() > 0 else np.full(len(names), 1.0 / len(names))
        return {name: float(w) for name, w in zip(names, share)}

    @property
    def needed_(self) -> list[str]:
        """The members whose probabilities :meth:`predict_proba` reads (weight > 0, or all when stacking)."""
        check_is_fitted(self, "weights_")
        return [n for n, w in self.weights_.items() if self.meta_model_ is not None or w > 0]

    def _blended(self, member_proba: Mapping[str, np.ndarray]) -> np.ndarray:
        """The members' blend before the prior's share is mixed in."""
        if self.meta_model_ is not None:
            Z = np.hstack([member_proba[name] for name in self.weights_])
            return align_proba(self.meta_model_.predict_proba(Z), self.meta_model_.classes_, self.classes_)
        blended = sum(w * member_proba[name] for name, w in self.weights_.items() if w > 0)
        if self.prior_correction and self.balanced:
            # Members trained class-balanced see every class as equally common; Bayes' rule
            # with the training prior turns that back into P(class | x) for the real mix.
            blended = blended * self.class_prior_
            blended = blended / blended.sum(axis=1, keepdims=True)
        return blended

    def predict_proba(self, member_proba: Mapping[str, np.ndarray]) -> np.ndarray:
        """``(1 − λ) · blend + λ · prior`` of member probabilities (columns aligned to ``classes_``)."""
        check_is_fitted(self, "weights_")
        blended = self._blended(member_proba)
        lam = self.prior_weight_
        return blended if lam == 0 else (1 - lam) * blended + lam * self.class_prior_

    def predict(self, member_proba: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(member_proba), axis=1)]


def class_prior(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """(classes, their shares) of the labels ``y``."""
    classes, counts = np.unique(np.asarray(y), return_counts=True)
    return classes, counts / counts.sum()


def prior_weight(proba: np.ndarray, y: np.ndarray, classes: np.ndarray, prior: np.ndarray) -> float:
    """The λ ∈ [0, 1] minimising the mean log-loss of ``(1 − λ) · proba + λ · prior`` on ``y``.

    The loss is convex in λ (−log of a linear function), so a bounded scalar search finds the
    global minimum; λ is rounded to 3 decimals so reports and manifests stay readable.
    """
    from scipy.optimize import minimize_scalar

    picked = np.searchsorted(classes, y)
    p_model = proba[np.arange(len(y)), picked]
    p_prior = prior[picked]

    def loss(lam: float) -> float:
        return float(-np.mean(np.log(np.clip((1 - lam) * p_model + lam * p_prior, 1e-15, None))))

    best = minimize_scalar(loss, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-4})
    lam = float(np.clip(best.x, 0.0, 1.0))
    for edge in (0.0, 1.0):  # the bounded search never evaluates its end points
        if loss(edge) <= loss(lam):
            lam = edge
    return round(lam, 3)


def _ridge_weights(
    oof_proba: Mapping[str, np.ndarray], names: list[str], y_oof: np.ndarray, classes: np.ndarray, alpha: float
) -> dict[str, float]:
    """Member weights from OOF rows: Ridge of signed y on each member's expected direction.

    Expected direction = Σ_c c·P(c) (= P(BULL) − P(BEAR) for classes -1/0/1). Coefficients are
    clipped at 0 and normalised to sum 1 (equal weights if all clip to 0), then checked — sum
    within (0.99, 1.01), no negative weight — so a numerical failure raises instead of weighting.
    """
    if classes.dtype.kind not in "iuf":
        raise ModelError(
            f"method='ridge' regresses the signed label and needs numeric classes (e.g. -1/0/1); "
            f"got {classes.tolist()!r}. Use method='stacking' or 'equal'."
        )
    values = classes.astype(float)
    D = np.column_stack([oof_proba[name] @ values for name in names])
    raw = np.maximum(Ridge(alpha=alpha).fit(D, y_oof.astype(float)).coef_, 0.0)
    w = raw / raw.sum() if raw.sum() > 0 else np.full(len(names), 1.0 / len(names))
    weights = {name: float(v) for name, v in zip(names, w)}
    total = sum(weights.values())
    if not 0.99 < total < 1.01 or any(v < 0 for v in weights.values()):
        raise ModelError(f"ensemble weights must be >= 0 and sum to 1; got sum {total:.4f}, weights {weights}.")
    return weights
