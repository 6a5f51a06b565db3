"""Out-of-fold ensemble: member weights learned only from predictions on rows a member never saw.

Weights fit on the very validation rows that are then reported share those rows with the score, so
the score is optimistic. Here, inside the training data passed to ``fit``, an inner purged
walk-forward produces out-of-fold (OOF) class probabilities for every member; the weights (or a
stacking meta-model) are fit on those OOF rows only, and then every member is refit on all of the
training data. Nothing from the rows being scored by the caller ever touches the weights.

The class prior is the ensemble's last, always-present candidate: its output is
``(1 − λ) · blend + λ · prior`` with ``λ ∈ [0, 1]`` chosen to minimise the log-loss of the same
out-of-fold rows (``prior_weight_``). Where the members carry no information that holds out of
sample, λ goes to 1 and the ensemble says what the class frequencies say — instead of the
confident noise a member fitted on one fold produces; where they do, λ stays small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from candor.errors import ConfigError, ModelError
from candor.models import MODEL_NAMES, SingleClassError, check_model_name, make_model
from candor.split import PurgedWalkForward

METHODS = ("ridge", "stacking", "equal")
MIN_CLASS_COUNT = 5
_FIX = "Fix: use fewer folds (or inner_splits), a longer history, or a wider label threshold."


def _take(X: Any, idx: np.ndarray) -> Any:
    """Rows by position for DataFrames and arrays alike."""
    return X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]


def align_proba(proba: np.ndarray, member_classes: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Spread ``proba`` (columns = ``member_classes``) over ``classes``; absent classes get 0.

    Needed when an inner training fold lacked a class: that member cannot predict it.
    """
    out = np.zeros((proba.shape[0], len(classes)))
    out[:, np.searchsorted(classes, member_classes)] = proba
    return out


def _inner_splits(X: Any, y: np.ndarray, t1: Any, n_splits: int, purge: int, embargo: int):
    """Inner purged walk-forward folds as (train, test) position arrays."""
    splitter = PurgedWalkForward(n_splits=n_splits, purge=purge, embargo=embargo)
    return [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(X, y, groups=t1)]


def _too_small(y: np.ndarray, classes: np.ndarray) -> list[tuple[Any, int]]:
    """(class, count) for classes with fewer than MIN_CLASS_COUNT rows in ``y`` (0 included)."""
    found, counts = np.unique(y, return_counts=True)
    count_of = dict(zip(found.tolist(), counts.tolist()))
    return [(c, count_of.get(c, 0)) for c in classes.tolist() if count_of.get(c, 0) < MIN_CLASS_COUNT]


def _describe(where: str, small: list[tuple[Any, int]]) -> str:
    return where + ": " + ", ".join(f"class {c!r} has {n} sample(s)" for c, n in small)


def _usable_fold(y_train: np.ndarray, classes: np.ndarray) -> list[tuple[Any, int]]:
    """Why an inner training block cannot be used ([] when it can).

    A class with 1–4 rows would be multiplied by balanced class weights of ~n/(k·count), so a
    handful of rows would drive the fit; a block with a single class teaches nothing. A class
    wholly absent is fine: members then give it probability 0 (columns aligned to ``classes``).
    """
    present = np.unique(y_train)
    rare = [(c, n) for c, n in _too_small(y_train, classes) if n > 0]
    if len(present) < 2:
        return rare or [(present[0].item() if len(present) else None, len(y_train))]
    return rare


class OutOfFoldEnsemble(ClassifierMixin, BaseEstimator):
    """Weighted (Ridge / equal) or stacked ensemble of catalog models, weights fit out-of-fold.

    ``members`` are catalog names (``candor.models.MODEL_NAMES``) or ``(name, estimator)``
    pairs (the estimator is cloned). ``method``: ``"ridge"`` (non-negative Ridge on each
    member's OOF expected direction), ``"stacking"`` (logistic meta-model on OOF probabilities) or
    ``"equal"``. ``fit(X, y, t1=None)``: ``t1`` are label end times aligned with ``X`` (a
    DataFrame with a DatetimeIndex) so the inner folds can purge overlapping labels.

    Fitted: ``classes_``, ``weights_`` (name → weight; for stacking each member's share of the
    meta-model's |coefficients|), ``members_`` (name → pipeline refit on all rows),
    ``meta_model_`` (stacking only), ``oof_index_`` / ``oof_proba_`` / ``oof_accuracy_`` (the
    inner out-of-fold rows, probabilities and accuracy per member; empty when no inner loop
    is needed: one member or ``method="equal"``), ``skipped_folds_`` (inner fold → reason).
    A class with < 5 rows in the training data is a ModelError; an inner fold whose training
    block has a class with 1–4 rows, or a single class, is skipped (``skipped_folds_``).
    """

    def __init__(
        self,
        members: Sequence[Any] = ("rf", "gb", "xgb", "lgbm"),
        *,
        method: str = "ridge",
        inner_splits: int = 3,
        purge: int = 0,
        embargo: int = 0,
        alpha: float = 1.0,
        random_state: int = 0,
        n_jobs: int = 1,
        member_params: Mapping[str, Mapping[str, Any]] | None = None,
        scaling: str | None = "standard",
        prune_threshold: float | None = 0.95,
        prior_correction: bool = True,
        balanced: bool = False,
        shrink_to_prior: bool = True,
    ) -> None:
        self.members = members
        self.method = method
        self.inner_splits = inner_splits
        self.purge = purge
        self.embargo = embargo
        self.alpha = alpha
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.member_params = member_params
        self.scaling = scaling
        self.prune_threshold = prune_threshold
        self.prior_correction = prior_correction
        self.balanced = balanced
        self.shrink_to_prior = shrink_to_prior

    # ---------------------------------------------------------------- configuration
    def _member_specs(self) -> list[tuple[str, Any]]:
        """(name, unfitted estimator or None for a catalog name), validated."""
        if isinstance(self.members, str) or len(self.members) == 0:
            raise ConfigError(f"`members` must be a non-empty sequence of model names. Got {self.members!r}.")
        specs = []
        for member in self.members:
            if isinstance(member, str):
                specs.append((check_model_name(member), None))
            else:
                name, estimator = member
                specs.append((str(name), estimator))
        names = [n for n, _ in specs]
        if len(set(names)) != len(names):
            raise ConfigError(f"`members` must not repeat a name. Got {names}.")
        # params for a catalog model that is not a member are ignored (a tuned set may cover more)
        unknown = set(self.member_params or {}) - set(names) - set(MODEL_NAMES)
        if unknown:
            raise ConfigError(
                f"`member_params` names {sorted(unknown)}, neither a member {names} nor a catalog model."
            )
        return specs

    def _check_params(self) -> list[tuple[str, Any]]:
        if self.method not in METHODS:
            raise ConfigError(f"`method` must be one of {', '.join(METHODS)}. Got {self.method!r}.")
        if not isinstance(self.inner_splits, int | np.integer) or self.inner_splits < 2:
            raise ConfigError(f"`inner_splits` must be an integer >= 2. Got {self.inner_splits!r}.")
        if self.alpha < 0:
            raise ConfigError(f"`alpha` (Ridge penalty) must be >= 0. Got {self.alpha!r}.")
        return self._member_specs()

    def _new_member(self, name: str, estimator: Any) -> Any:
        if estimator is not None:
            return clone(estimator)
        return make_model(
            name, random_state=self.random_state, n_jobs=self.n_jobs,
            params=(self.member_params or {}).get(name), scaling=self.scaling,
            prune_threshold=self.prune_threshold, class_weight="balanced" if self._balanced() else None,
        )

    # ---------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any, t1: Any = None) -> OutOfFoldEnsemble:
        """Inner OOF probabilities → weights (or meta-model) → refit every member on all rows."""
        specs = self._check_params()
        X_arr, y_arr = validate_data(self, X, y)
        X = X if hasattr(X, "iloc") else X_arr
        check_classification_targets(y_arr)
        self.classes_, counts = np.unique(y_arr, return_counts=True)
        self.class_prior_ = counts / counts.sum()
        if len(self.classes_) < 2:
            raise SingleClassError(
                f"`y` has only one class ({self.classes_[0]!r}); the ensemble needs at least 2. {_FIX}"
            )
        small = _too_small(y_arr, self.classes_)
        if small:
            raise ModelError(f"{_describe('training data', small)}; each class needs at least {MIN_CLASS_COUNT}. {_FIX}")
        names = [n for n, _ in specs]
        weights_need_oof = len(specs) > 1 and self.method != "equal"
        needs_oof = self.shrink_to_prior or weights_need_oof
        self.oof_index_ = np.zeros(0, dtype=np.int64)
        self.oof_proba_: dict[str, np.ndarray] = {}
        self.oof_accuracy_: dict[str, float] = {}
        self.skipped_folds_: dict[int, str] = {}
        if needs_oof:
            self._fit_out_of_fold(X, y_arr, t1, specs, required=weights_need_oof)
        self.meta_model_ = None
        self.prior_weight_ = 0.0
        self.weights_ = self._weights(names, y_arr[self.oof_index_])
        self.prior_weight_ = self._fit_prior_weight(y_arr[self.oof_index_])
        self.members_ = {name: self._new_member(name, est).fit(X, y_arr) for name, est in specs}
        return self

    def members_names(self) -> list[str]:
        """Member names in order, validated."""
        return [name for name, _ in self._check_params()]

    def new_member(self, name: str) -> Any:
        """An unfitted member pipeline exactly as :meth:`fit` would build it."""
        specs = dict(self._check_params())
        if name not in specs:
            raise ConfigError(f"`{name}` is not a member of this ensemble ({', '.join(specs)}).")
        return self._new_member(name, specs[name])

    def assemble(self, X: Any, y: Any, members: Mapping[str, Any] | None, oof_proba: Mapping[str, np.ndarray],
                 y_oof: Any) -> OutOfFoldEnsemble:
        """Adopt members already fitted on ``(X, y)``; fit the weights on given out-of-fold rows.

        For a walk-forward caller that has, for rows inside ``X``, predictions made by members
        trained only on rows before them (earlier walk-forward folds): those are out-of-fold
        predictions of the training data, so refitting members in an inner loop would only
        repeat work. ``oof_proba`` columns must follow ``np.unique(y)``. With ``members=None``
        only the weights are fitted: :meth:`combine` works, :meth:`predict_proba` does not.
        """
        specs = self._check_params()
        _, y_arr = validate_data(self, X, y)
        check_classification_targets(y_arr)
        self.classes_, counts = np.unique(y_arr, return_counts=True)
        self.class_prior_ = counts / counts.sum()
        small = _too_small(y_arr, self.classes_)
        if small:
            raise ModelError(f"{_describe('training data', small)}; each class needs at least {MIN_CLASS_COUNT}. {_FIX}")
        names = [n for n, _ in specs]
        y_oof = np.asarray(y_oof)
        self.oof_index_ = np.zeros(0, dtype=np.int64)
        self.oof_proba_ = {name: np.asarray(oof_proba[name]) for name in names if name in oof_proba}
        self.oof_accuracy_ = {name: float(np.mean(self.classes_[p.argmax(axis=1)] == y_oof))
                              for name, p in self.oof_proba_.items()} if len(y_oof) else {}
        self.skipped_folds_ = {}
        self.meta_model_ = None
        self.prior_weight_ = 0.0
        self.weights_ = self._weights(names, y_oof)
        self.prior_weight_ = self._fit_prior_weight(y_oof)
        self.members_ = {name: members[name] for name in names} if members is not None else {}
        return self

    def _fit_out_of_fold(self, X: Any, y: np.ndarray, t1: Any, specs: list[tuple[str, Any]],
                         required: bool = True) -> None:
        """Fill ``oof_index_``, ``oof_proba_``, ``oof_accuracy_`` and ``skipped_folds_``.

        Inner folds whose training block is unusable (see ``_usable_fold``) are skipped and
        listed in ``skipped_folds_``; if every fold is unusable that is a ModelError naming
        each fold, class and count — unless the rows are ``required`` only for the prior's share
        (one member, or equal weights), which then stays 0.
        """
        folds = _inner_splits(X, y, t1, self.inner_splits, self.purge, self.embargo)
        reasons = {k: _usable_fold(y[train], self.classes_) for k, (train, _) in enumerate(folds)}
        self.skipped_folds_ = {k: _describe(f"inner fold {k} (training rows)", r) for k, r in reasons.items() if r}
        used = [fold for k, fold in enumerate(folds) if not reasons[k]]
        if not used and not required:  # only the prior's share needed them: it stays 0
            return
        if not used:
            raise ModelError(
                "no inner fold can be used to fit the ensemble weights: "
                + "; ".join(self.skipped_folds_.values())
                + f" (each class needs at least {MIN_CLASS_COUNT}). {_FIX}"
            )
        self.oof_index_ = np.concatenate([test for _, test in used])
        y_oof = y[self.oof_index_]
        for name, est in specs:
            chunks = []
            for train, test in used:
                member = self._new_member(name, est).fit(_take(X, train), y[train])
                chunks.append(align_proba(member.predict_proba(_take(X, test)), member.classes_, self.classes_))
            self.oof_proba_[name] = np.vstack(chunks)
            pred = self.classes_[np.argmax(self.oof_proba_[name], axis=1)]
            self.oof_accuracy_[name] = float(np.mean(pred == y_oof))

    def _balanced(self) -> bool:
        # Ensembles saved before class balancing became optional were balanced throughout.
        return bool(getattr(self, "balanced", True))

    def _fit_prior_weight(self, y_oof: np.ndarray) -> float:
        """λ of the class prior: the out-of-fold log-loss minimiser over [0, 1] (0 without OOF rows)."""
        if not self.shrink_to_prior or len(y_oof) == 0 or set(self.weights_) - set(self.oof_proba_):
            return 0.0
        return prior_weight(self.combine(self.oof_proba_), y_oof, self.classes_, self.class_prior_)

    def _weights(self, names: list[str], y_oof: np.ndarray) -> dict[str, float]:
        if len(names) == 1:
            return {names[0]: 1.0}
        if self.method == "equal":
            return {name: 1.0 / len(names) for name in names}
        if self.method == "stacking":
            return self._fit_stacking(names, y_oof)
        return _ridge_weights(self.oof_proba_, names, y_oof, self.classes_, self.alpha)

    def _fit_stacking(self, names: list[str], y_oof: np.ndarray) -> dict[str, float]:
        """Logistic meta-model on concatenated OOF probabilities.

        ``weights_`` then reports each member's share of the meta-model's |coefficient| mass:
        a summary for the report, not what ``predict_proba`` multiplies.
        """
        if len(np.unique(y_oof)) < 2:
            raise ModelError(f"out-of-fold rows hold a single class; stacking needs 2 or more. {_FIX}")
        Z = np.hstack([self.oof_proba_[name] for name in names])
        self.meta_model_ = LogisticRegression(
            class_weight="balanced" if self._balanced() else None, max_iter=5000, random_state=self.random_state
        ).fit(Z, y_oof)
        k = len(self.classes_)
        mass = np.array([np.abs(self.meta_model_.coef_[:, i * k:(i + 1) * k]).sum() for i in range(len(names))])
        share = mass / mass.sum() if mass.sum() > 0 else np.full(len(names), 1.0 / len(names))
        return {name: float(w) for name, w in zip(names, share)}

    # ---------------------------------------------------------------- prediction
    def predict_proba(self, X: Any) -> np.ndarray:
        """Weighted average of member probabilities, or the stacking meta-model's output."""
        check_is_fitted(self)
        validate_data(self, X, reset=False)
        aligned = {
            name: align_proba(member.predict_proba(X), member.classes_, self.classes_)
            for name, member in self.members_.items()
            if self.meta_model_ is not None or self.weights_[name] > 0
        }
        return self.combine(aligned)

    def combine(self, member_proba: Mapping[str, np.ndarray]) -> np.ndarray:
        """Ensemble probabilities from member probabilities (columns aligned to ``classes_``)."""
        check_is_fitted(self, "weights_")
        if self.meta_model_ is not None:
            Z = np.hstack([member_proba[name] for name in self.weights_])
            blended = align_proba(self.meta_model_.predict_proba(Z), self.meta_model_.classes_, self.classes_)
        else:
            blended = sum(w * member_proba[name] for name, w in self.weights_.items() if w > 0)
            if self.prior_correction and self._balanced():
                # Members trained class-balanced see every class as equally common; Bayes' rule
                # with the training prior turns that back into P(class | x) for the real mix.
                blended = blended * self.class_prior_
                blended = blended / blended.sum(axis=1, keepdims=True)
        lam = getattr(self, "prior_weight_", 0.0)
        return blended if lam == 0 else (1 - lam) * blended + lam * self.class_prior_

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class, in the original label values."""
        proba = self.predict_proba(X)  # checks fitted before classes_ is touched
        return self.classes_[np.argmax(proba, axis=1)]


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
