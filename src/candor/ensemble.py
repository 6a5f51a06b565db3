"""Members apart from the blend: a :class:`Blend` learns how to combine member probabilities.

Weights fit on the very validation rows that are then reported share those rows with the score, so
the score is optimistic. A :class:`Blend` is therefore fit only on *out-of-fold* (OOF) member
probabilities — predictions each member made on rows it never trained on — and learns two things
from them: the member weights (``method``: non-negative Ridge, a stacking meta-model, or equal) and
the class prior's share λ. Its output is ``(1 − λ) · blend + λ · prior`` with ``λ ∈ [0, 1]``
minimising the log-loss of the same OOF rows (``prior_weight_``): where the members carry no
information that holds out of sample, λ goes to 1 and the blend says what the class frequencies
say — instead of the confident noise a member fitted on one fold produces; where they do, λ stays
small.

Where the OOF rows come from is the caller's business: the training walk-forward
(:mod:`candor.training.stacking`) uses the earlier folds' test blocks, the weekly refit
(:mod:`candor.ops.weights`) the rows after the champion's training span, and
:class:`OutOfFoldEnsemble` an inner purged walk-forward inside the rows given to its ``fit``.
:class:`BlendedEnsemble` — fitted members and a fitted Blend — is the served model.
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
    None), ``prior_weight_`` (λ; 0 without OOF rows).
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
        elif self.shrink_to_prior and len(y):
            self.prior_weight_ = prior_weight(self._blended(proba), y, self.classes_, self.class_prior_)
        return self

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


def _blend_members(members: Mapping[str, Any], blend: Blend, X: Any) -> np.ndarray:
    """``blend`` applied to the probabilities of the members it reads on ``X``."""
    aligned = {name: align_proba(members[name].predict_proba(X), members[name].classes_, blend.classes_)
               for name in blend.needed_}
    return blend.predict_proba(aligned)


class _Blended:
    """Prediction and read-outs shared by the fitted ensembles: ``members_`` + ``blend_``."""

    @property
    def weights_(self) -> dict[str, float]:
        return self.blend_.weights_

    @property
    def prior_weight_(self) -> float:
        return self.blend_.prior_weight_

    @property
    def meta_model_(self) -> Any:
        return self.blend_.meta_model_

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class, in the original label values."""
        proba = self.predict_proba(X)  # checks fitted before classes_ is touched
        return self.classes_[np.argmax(proba, axis=1)]


class BlendedEnsemble(_Blended, ClassifierMixin, BaseEstimator):
    """The served model: members already fitted and the :class:`Blend` fitted on their OOF rows.

    A prefit composite (like sklearn's ``FrozenEstimator``): ``members`` (name → fitted
    classifier) and ``blend`` are its parameters and its fitted state, so it has no ``fit``; the
    training walk-forward builds one for the production model, and the weekly refit one with a
    refit blend over the champion's members. ``predict_proba`` / ``predict`` / ``classes_`` are
    what the forecast job, the API, the drift monitor and freqtrade read; ``members_``,
    ``blend_``, ``weights_``, ``prior_weight_`` and ``class_prior_`` what reports read.
    """

    def __init__(self, members: Mapping[str, Any] | None = None, blend: Blend | None = None) -> None:
        self.members = members
        self.blend = blend

    def fit(self, X: Any = None, y: Any = None) -> BlendedEnsemble:
        """Nothing to fit (its parts come fitted, as with ``FrozenEstimator``); checks them and returns self."""
        check_is_fitted(self)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return (self.blend is not None and hasattr(self.blend, "weights_") and self.members is not None
                and set(self.blend.weights_) <= set(self.members))

    @property
    def members_(self) -> dict[str, Any]:
        check_is_fitted(self)
        return dict(self.members)

    @property
    def blend_(self) -> Blend:
        check_is_fitted(self)
        return self.blend

    @property
    def classes_(self) -> np.ndarray:
        return self.blend_.classes_

    @property
    def class_prior_(self) -> np.ndarray:
        return self.blend_.class_prior_

    def predict_proba(self, X: Any) -> np.ndarray:
        """The blend of the members' probabilities on ``X`` (columns = ``classes_``)."""
        check_is_fitted(self)
        return _blend_members(self.members, self.blend, X)


class OutOfFoldEnsemble(_Blended, ClassifierMixin, BaseEstimator):
    """Catalog members and a :class:`Blend` fit on an inner purged walk-forward of ``fit``'s rows.

    The self-contained form for library use: inside the training data passed to ``fit``, an
    inner purged walk-forward produces OOF class probabilities for every member; the blend is fit
    on those rows only, and then every member is refit on all of the training data. (The training
    pipeline gets its OOF rows from its own outer folds instead: :mod:`candor.training.stacking`.)
    Champions pickled by earlier candor are instances of this class; they load as such
    (:meth:`__setstate__` rebuilds their blend) and predict the same probabilities.

    ``members`` are catalog names (``candor.models.MODEL_NAMES``) or ``(name, estimator)``
    pairs (the estimator is cloned); ``method``, ``alpha``, ``prior_correction``, ``balanced``
    and ``shrink_to_prior`` are the blend's (:class:`Blend`). ``fit(X, y, t1=None)``: ``t1`` are
    label end times aligned with ``X`` (a DataFrame with a DatetimeIndex) so the inner folds can
    purge overlapping labels.

    Fitted: ``classes_``, ``class_prior_``, ``members_`` (name → pipeline refit on all rows),
    ``blend_`` (with ``weights_``, ``meta_model_`` and ``prior_weight_`` read through),
    ``oof_index_`` / ``oof_proba_`` / ``oof_accuracy_`` (the inner out-of-fold rows,
    probabilities and accuracy per member; empty when no inner loop is needed: one member or
    ``method="equal"`` without ``shrink_to_prior``), ``skipped_folds_`` (inner fold → reason).
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

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Champions pickled before the blend was its own estimator held ``weights_``,
        ``meta_model_`` and ``prior_weight_`` themselves: they become ``blend_``, unchanged."""
        state = dict(state)
        if "blend_" not in state and "weights_" in state:
            balanced = state.setdefault("balanced", True)  # saved before balancing was optional: balanced
            blend = Blend(method=state.get("method", "ridge"), alpha=state.get("alpha", 1.0),
                          shrink_to_prior=state.get("shrink_to_prior", True),
                          prior_correction=state.get("prior_correction", True), balanced=balanced,
                          random_state=state.get("random_state", 0))
            blend.classes_ = state["classes_"]
            blend.class_prior_ = state["class_prior_"]
            blend.weights_ = state.pop("weights_")
            blend.meta_model_ = state.pop("meta_model_", None)
            blend.prior_weight_ = state.pop("prior_weight_", 0.0)
            state["blend_"] = blend
        super().__setstate__(state)

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
            prune_threshold=self.prune_threshold, class_weight="balanced" if self.balanced else None,
        )

    def _blend(self) -> Blend:
        return Blend(self.method, alpha=self.alpha, shrink_to_prior=self.shrink_to_prior,
                     prior_correction=self.prior_correction, balanced=self.balanced,
                     random_state=self.random_state)

    # ---------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any, t1: Any = None) -> OutOfFoldEnsemble:
        """Inner OOF probabilities → :class:`Blend` → refit every member on all rows."""
        specs = self._check_params()
        X_arr, y_arr = validate_data(self, X, y)
        X = X if hasattr(X, "iloc") else X_arr
        check_classification_targets(y_arr)
        self.classes_, self.class_prior_ = class_prior(y_arr)
        if len(self.classes_) < 2:
            raise SingleClassError(
                f"`y` has only one class ({self.classes_[0]!r}); the ensemble needs at least 2. {_FIX}"
            )
        small = _too_small(y_arr, self.classes_)
        if small:
            raise ModelError(f"{_describe('training data', small)}; each class needs at least {MIN_CLASS_COUNT}. {_FIX}")
        weights_need_oof = len(specs) > 1 and self.method != "equal"
        self.oof_index_ = np.zeros(0, dtype=np.int64)
        self.oof_proba_: dict[str, np.ndarray] = {}
        self.oof_accuracy_: dict[str, float] = {}
        self.skipped_folds_: dict[int, str] = {}
        if self.shrink_to_prior or weights_need_oof:
            self._fit_out_of_fold(X, y_arr, t1, specs, required=weights_need_oof)
        empty = np.zeros((0, len(self.classes_)))
        oof = {name: self.oof_proba_.get(name, empty) for name, _ in specs}
        self.blend_ = self._blend().fit(oof, y_arr[self.oof_index_], self.class_prior_, classes=self.classes_)
        self.members_ = {name: self._new_member(name, est).fit(X, y_arr) for name, est in specs}
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

    # ---------------------------------------------------------------- prediction
    def predict_proba(self, X: Any) -> np.ndarray:
        """The blend of the members' probabilities on ``X`` (columns = ``classes_``)."""
        check_is_fitted(self)
        validate_data(self, X, reset=False)
        return _blend_members(self.members_, self.blend_, X)


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
