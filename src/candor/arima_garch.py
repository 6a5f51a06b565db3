"""ARIMA-GARCH member: an AR(p)-GARCH(1,1) model of 1-bar log returns, read as direction classes.

Seed 003's phase-2 model. Per fit (one walk-forward training fold) ``arch`` estimates

    r_t = c + φ_1 r_{t−1} + … + φ_p r_{t−p} + ε_t,   ε_t = σ_t z_t,
    σ²_t = ω + α ε²_{t−1} + β σ²_{t−1},               z_t ~ standardised Student-t(ν) or normal,

on the 1-bar log-return column (``ret_1``) of the training rows; ``y`` only names the classes.
Each row t then gets the distribution of the label's horizon return ``L = r_{t+1} + … + r_{t+h}``
given bars ≤ t, and the class probabilities are that distribution's mass on each side of the
label threshold. Labels use the simple return ``R = close[t+h]/close[t] − 1`` (candor.labels), so
``R > thr ⟺ L > log(1+thr)`` and ``R < −thr ⟺ L < log(1−thr)``; binary labels split at 0.

The distribution of L: its mean and variance are exact under the model (AR impulse weights and
the GARCH variance recursion); its shape is a standardised Student-t whose kurtosis matches the
exact fourth moment of L (innovation kurtosis plus the randomness of future σ²; closed form for
GARCH(1,1) with symmetric z). For h = 1 that is the innovation law itself. Against a Monte-Carlo
of the fitted process the class probabilities agree to within 0.005 (tests/test_arima_garch.py).

Causality and the walk-forward. GARCH is not refit per row (too slow): ``predict_proba`` filters
the rows it is given, in order, with the fitted parameters, starting from the state at the end of
the training rows (the last p returns and the next-bar variance) as if its first row were the bar
after them. The prediction for row t therefore uses the training rows and the given rows ≤ t
only — truncating X after t does not change it. The purge/embargo gap between a training fold
and its test block is skipped (its returns are not in X); the variance forgets its starting
point at rate β per bar (≈ 0.9 on daily equity returns), so only the first rows of a block feel
it. In-sample predictions (train accuracy) start from the same end-of-training state.

Probabilities: with ``class_weight=None`` (the default) they are the model's ``P(label = c)``;
with ``"balanced"`` (set by the ensemble's ``class_weight`` like every member's) they are the
class-balanced form ``P(c)·w_c / Σ`` (as HistGB's prior correction), which the ensemble's Bayes
prior correction turns back into ``P(c)``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import signal, stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from candor.errors import ConfigError, ModelError
from candor.labels import BEARISH, BULLISH, NEUTRAL, LabelSpec

NAME = "arima_garch"
RETURN_COLUMN = "ret_1"
#: Label kinds whose classes are a fixed cut of the horizon return (the others need a σ history
#: or the price path, which a return-distribution forecast does not give).
LABEL_KINDS = ("threshold", "binary")
DISTRIBUTIONS = ("t", "normal")
#: arch fits better on percent returns (its optimiser's tolerances assume values of order 1).
SCALE = 100.0


def label_params(spec: LabelSpec) -> dict[str, Any]:
    """The member's label parameters for ``spec``; a ConfigError for kinds it cannot classify."""
    if spec.kind not in LABEL_KINDS:
        raise ConfigError(
            f"model {NAME!r} classifies threshold and binary labels; got label kind {spec.kind!r}. "
            f"Fix: use --label threshold or binary, or leave {NAME} out of --models."
        )
    return {"horizon": int(spec.horizon), "threshold": float(spec.threshold), "label": spec.kind}


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space: the AR order and the innovation law (GARCH(1,1) itself is not searched)."""
    return {"lags": trial.suggest_int("lags", 0, 3), "dist": trial.suggest_categorical("dist", list(DISTRIBUTIONS))}


class ArimaGarchClassifier(ClassifierMixin, BaseEstimator):
    """AR(``lags``)-GARCH(1,1) direction classifier (see the module docstring).

    ``return_column`` is the 1-bar log-return column: a name (X a DataFrame at fit) or a position.
    Fitted: ``classes_``, ``params_`` (arch's parameter Series, percent-return units),
    ``converged_``, ``return_index_``, ``start_lags_`` / ``start_variance_`` (state after the
    training rows).
    """

    def __init__(
        self,
        lags: int = 1,
        dist: str = "t",
        horizon: int = 5,
        threshold: float = 0.002,
        label: str = "threshold",
        return_column: str | int = RETURN_COLUMN,
        class_weight: str | None = None,
    ) -> None:
        self.lags = lags
        self.dist = dist
        self.horizon = horizon
        self.threshold = threshold
        self.label = label
        self.return_column = return_column
        self.class_weight = class_weight

    # ---------------------------------------------------------------- checks
    def _check_params(self) -> None:
        if isinstance(self.lags, bool) or not isinstance(self.lags, int | np.integer) or not 0 <= self.lags <= 20:
            raise ConfigError(f"`lags` (AR order) must be an integer in 0..20. Got {self.lags!r}.")
        if self.dist not in DISTRIBUTIONS:
            raise ConfigError(f"`dist` must be one of {', '.join(DISTRIBUTIONS)}. Got {self.dist!r}.")
        if isinstance(self.horizon, bool) or not isinstance(self.horizon, int | np.integer) or self.horizon < 1:
            raise ConfigError(f"`horizon` must be an integer >= 1. Got {self.horizon!r}.")
        if not isinstance(self.threshold, int | float) or not 0 <= self.threshold < 1:
            raise ConfigError(f"`threshold` must be a return in [0, 1). Got {self.threshold!r}.")
        if self.label not in LABEL_KINDS:
            raise ConfigError(f"`label` must be one of {', '.join(LABEL_KINDS)}. Got {self.label!r}.")
        if self.class_weight not in ("balanced", None):
            raise ConfigError(f"`class_weight` must be 'balanced' or None. Got {self.class_weight!r}.")

    def _model_classes(self) -> np.ndarray:
        return np.array([BEARISH, BULLISH] if self.label == "binary" else [BEARISH, NEUTRAL, BULLISH])

    def _return_index(self, X: Any) -> int:
        columns = getattr(X, "columns", None)
        if isinstance(self.return_column, str):
            if columns is None or self.return_column not in list(columns):
                raise ModelError(
                    f"model {NAME!r} reads the 1-bar log return column {self.return_column!r}, which X "
                    "does not have. Fix: keep the 'returns' feature group, or pass return_column=<position>."
                )
            return list(columns).index(self.return_column)
        width = X.shape[1]
        if isinstance(self.return_column, bool) or not isinstance(self.return_column, int | np.integer) \
                or not 0 <= self.return_column < width:
            raise ConfigError(f"`return_column` must be a column name or a position in 0..{width - 1}. "
                              f"Got {self.return_column!r}.")
        return int(self.return_column)

    # ---------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any) -> ArimaGarchClassifier:
        """Estimate AR-GARCH on the return column of these rows (in order); ``y`` gives the classes."""
        self._check_params()
        index = self._return_index(X)
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        foreign = sorted(set(self.classes_.tolist()) - set(self._model_classes().tolist()))
        if foreign:
            raise ModelError(f"model {NAME!r} predicts {self.label} direction classes "
                             f"{self._model_classes().tolist()}; y also holds {foreign}.")
        if len(self.classes_) < 2:
            raise ModelError(f"`y` has only one class ({self.classes_[0]!r}); a classifier needs at least 2.")
        returns = SCALE * X[:, index]
        if len(returns) < 50 + self.lags:
            raise ModelError(f"model {NAME!r} needs at least {50 + self.lags} rows to fit; got {len(returns)}.")
        self.return_index_ = index
        self.params_, self.converged_, last = _fit_arch(returns, self.lags, self.dist)
        p = self._unpack()
        self.start_lags_ = returns[len(returns) - self.lags:][::-1].copy()  # most recent first
        self.start_variance_ = float(p["omega"] + p["alpha"] * last[0] ** 2 + p["beta"] * last[1])
        self.class_scale_ = np.ones(len(self.classes_))
        if self.class_weight == "balanced":
            self.class_scale_ = compute_class_weight("balanced", classes=self.classes_, y=y)
        return self

    def _unpack(self) -> dict[str, Any]:
        params = self.params_
        ar = np.array([params[f"y[{j}]"] for j in range(1, self.lags + 1)], dtype=float)
        return {"const": float(params["Const"]), "ar": ar, "omega": float(params["omega"]),
                "alpha": float(params["alpha[1]"]), "beta": float(params["beta[1]"]),
                "nu": float(params["nu"]) if "nu" in params.index else None}

    # ---------------------------------------------------------------- prediction
    def forecast_moments(self, X: Any) -> dict[str, np.ndarray]:
        """Per row (percent log-return units): per-step means, per-step variances, and the
        horizon sum's mean, variance and kurtosis, given the training rows and rows ≤ t of X."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        p = self._unpack()
        returns = SCALE * X[:, self.return_index_]
        next_variance, recent = self._filter(returns, p)
        means = _mean_paths(recent, p["const"], p["ar"], self.horizon)
        return {"step_mean": means, "mean": means.sum(axis=1),
                **_sum_moments(next_variance, p, _impulse(p["ar"], self.horizon), self._kurtosis(p))}

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns ordered as ``classes_`` (see the module docstring)."""
        moments = self.forecast_moments(X)
        scale = np.sqrt(moments["variance"])
        nu_eff = _matched_nu(moments["kurtosis"], self._kurtosis(self._unpack()), self._unpack()["nu"])

        def below(level: float) -> np.ndarray:
            return _std_t_cdf((level - moments["mean"]) / scale, nu_eff)

        if self.label == "binary":
            down = below(0.0)
            full = {BEARISH: down, BULLISH: 1.0 - down}
        else:
            down = below(SCALE * np.log1p(-self.threshold))
            up = 1.0 - below(SCALE * np.log1p(self.threshold))
            full = {BEARISH: down, NEUTRAL: np.clip(1.0 - down - up, 0.0, 1.0), BULLISH: up}
        proba = np.column_stack([full[int(c)] for c in self.classes_]) * self.class_scale_
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def _kurtosis(self, p: dict[str, Any]) -> float:
        """E z⁴ of the standardised innovation (inf for t with ν ≤ 4)."""
        if p["nu"] is None:
            return 3.0
        return 3.0 + 6.0 / (p["nu"] - 4.0) if p["nu"] > 4.0 else np.inf

    def _filter(self, returns: np.ndarray, p: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """σ²_{t+1} for every row and the (n, lags) recent returns (most recent first) after it."""
        lags = self.lags
        extended = np.concatenate([self.start_lags_[::-1], returns])
        n = len(returns)
        mean = np.full(n, p["const"])
        for j in range(1, lags + 1):
            mean += p["ar"][j - 1] * extended[lags - j: lags - j + n]
        shock = returns - mean
        # σ²_{t+1} = ω + α ε²_t + β σ²_t, from σ²_0 = start_variance_: one linear recursion
        drive = p["omega"] + p["alpha"] * shock ** 2
        next_variance, _ = signal.lfilter([1.0], [1.0, -p["beta"]], drive, zi=[p["beta"] * self.start_variance_])
        recent = np.column_stack([extended[lags - i: lags - i + n] for i in range(lags)]) if lags else np.zeros((n, 0))
        return next_variance, recent


# ------------------------------------------------------------------------------- helpers
def _fit_arch(returns: np.ndarray, lags: int, dist: str) -> tuple[Any, bool, tuple[float, float]]:
    """arch's fit: (params, converged, (last residual, last conditional variance))."""
    from arch import arch_model  # lazy: arch pulls in matplotlib and numba, 1-2 s in every fold worker

    # AR with no lags is the constant mean, with the same parameter name ("Const") as AR(p)
    model = arch_model(returns, mean="AR", lags=lags or None, vol="GARCH",
                       p=1, q=1, dist="t" if dist == "t" else "normal", rescale=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is recorded in converged_, not warned per fold
        result = model.fit(disp="off", show_warning=False)
    params = result.params
    if not np.all(np.isfinite(params.to_numpy())):
        raise ModelError(f"model {NAME!r}: the GARCH fit gave non-finite parameters ({params.to_dict()}).")
    resid = np.asarray(result.resid, dtype=float)
    variance = np.asarray(result.conditional_volatility, dtype=float) ** 2
    return params, bool(result.convergence_flag == 0), (float(resid[-1]), float(variance[-1]))


def _mean_paths(recent: np.ndarray, const: float, ar: np.ndarray, horizon: int) -> np.ndarray:
    """(n, h) conditional means of r_{t+1..t+h} by the AR recursion from each row's recent returns."""
    window = recent.copy()
    out = np.empty((len(recent), horizon))
    for k in range(horizon):
        step = const + (window @ ar if len(ar) else 0.0)
        out[:, k] = step
        if len(ar):
            window = np.column_stack([step, window[:, :-1]])
    return out


def _impulse(ar: np.ndarray, horizon: int) -> np.ndarray:
    """ψ_0..ψ_{h−1}: the response of r_{t+j} to ε_t under the AR recursion."""
    psi = np.zeros(horizon)
    psi[0] = 1.0
    for j in range(1, horizon):
        psi[j] = sum(ar[i - 1] * psi[j - i] for i in range(1, min(j, len(ar)) + 1))
    return psi


def _sum_moments(next_variance: np.ndarray, p: dict[str, Any], psi: np.ndarray,
                 kappa: float) -> dict[str, np.ndarray]:
    """Per-step variances, and variance and kurtosis of L − E L = Σ_k a_k ε_{t+k}.

    E σ²_{k+1} = ω + ρ E σ²_k and E σ⁴_{k+1} = ω² + 2ωρ E σ²_k + γ E σ⁴_k (ρ = α+β,
    γ = α²κ + 2αβ + β²); E ε²_j ε²_k (j < k) = A_m E σ²_j + ρ^{m−1}(ω E σ²_j + (ακ+β) E σ⁴_j),
    m = k − j, A_m = ω(1 + ρ + … + ρ^{m−2}); odd cross moments vanish for symmetric z.
    """
    h = len(psi)
    omega, alpha, beta = p["omega"], p["alpha"], p["beta"]
    rho = alpha + beta
    finite = np.isfinite(kappa)
    k4 = kappa if finite else 3.0
    gamma = alpha ** 2 * k4 + 2 * alpha * beta + beta ** 2
    s2 = np.empty((len(next_variance), h))
    s4 = np.empty_like(s2)
    s2[:, 0], s4[:, 0] = next_variance, next_variance ** 2
    for k in range(1, h):
        s2[:, k] = omega + rho * s2[:, k - 1]
        s4[:, k] = omega ** 2 + 2 * omega * rho * s2[:, k - 1] + gamma * s4[:, k - 1]
    weight = np.cumsum(psi)[::-1]  # a_k = ψ_0 + … + ψ_{h−k}
    step_variance = np.column_stack([(psi[:k + 1][::-1] ** 2 * s2[:, :k + 1]).sum(axis=1) for k in range(h)])
    variance = (weight ** 2 * s2).sum(axis=1)
    fourth = (weight ** 4 * k4 * s4).sum(axis=1)
    for j in range(h):
        after = omega * s2[:, j] + (alpha * k4 + beta) * s4[:, j]  # E ε²_j σ²_{j+1}
        for k in range(j + 1, h):
            m = k - j
            base = omega * sum(rho ** i for i in range(m - 1))
            fourth += 6 * weight[j] ** 2 * weight[k] ** 2 * (base * s2[:, j] + rho ** (m - 1) * after)
    kurtosis = fourth / variance ** 2 if finite else np.full(len(variance), np.inf)
    return {"step_variance": step_variance, "variance": variance, "kurtosis": kurtosis}


def _matched_nu(kurtosis: np.ndarray, innovation_kurtosis: float, nu: float | None) -> np.ndarray:
    """Degrees of freedom of the standardised t with the given kurtosis (inf = normal).

    Without a fourth moment (t with ν ≤ 4) the innovation's own ν is used.
    """
    if not np.isfinite(innovation_kurtosis):
        return np.full(len(kurtosis), float(nu))
    excess = np.maximum(kurtosis - 3.0, 0.0)
    with np.errstate(divide="ignore"):
        return np.where(excess > 1e-9, 4.0 + 6.0 / excess, np.inf)


def _std_t_cdf(x: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """CDF of the unit-variance Student-t (normal where ν is infinite)."""
    heavy = np.isfinite(nu)
    out = stats.norm.cdf(x)
    if heavy.any():
        v = nu[heavy]
        out[heavy] = stats.t.cdf(x[heavy] * np.sqrt(v / (v - 2.0)), v)
    return out
