"""The settings every layer shares, each defined once: labels, features, split, models, backtest, gates.

:class:`~candor.config.Config` composes these specs (``[labels]`` is a :class:`LabelSpec`,
``[features]`` a :class:`FeatureSet`, ``[backtest]`` a :class:`BacktestConfig`, ``[registry]`` a
:class:`RegistrySpec`…), and the library takes the same objects, so every rule lives here once and
an invalid setting is refused when the config loads, before a bar is read.

A spec built directly (``LabelSpec(horizon=0)``) raises :class:`~candor.errors.ConfigError` naming
the parameter, the value and what is allowed; inside a config the same rule names the dotted field
(``labels.horizon``). Stored forms (a manifest's ``feature_set``) are ``model_dump(mode="json")`` and
read back with ``model_validate``.

Kept free of other candor packages (only :mod:`candor.errors`): the names of timeframes and model
catalog entries are listed here and a test checks them against :mod:`candor.data.bars` and
:mod:`candor.models`.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_serializer, model_validator,
)

from candor.errors import ConfigError

BEARISH = -1
NEUTRAL = 0
BULLISH = 1

LABEL_KINDS: tuple[str, ...] = ("threshold", "volscaled", "binary", "triple")
FEATURE_GROUPS: tuple[str, ...] = ("returns", "volume", "momentum", "volatility", "trend", "time", "context")
#: The bar timeframes (:data:`candor.data.bars.TIMEFRAMES`'s keys; a test keeps them equal).
TIMEFRAME_NAMES: tuple[str, ...] = ("m1", "m5", "m15", "h1", "h4", "d1", "w1")
#: The model catalog (:data:`candor.models.MODEL_NAMES`; a test keeps them equal).
MODEL_CHOICES: tuple[str, ...] = ("rf", "gb", "gb_classic", "xgb", "lgbm", "logreg", "arima_garch")
ENSEMBLE_METHODS: tuple[str, ...] = ("ridge", "stacking", "equal")
EXECUTIONS: tuple[str, ...] = ("next_open", "next_close")


# ---------------------------------------------------------------------------------- error text
_BOUNDS = {"greater_than_equal": (">=", "ge"), "less_than_equal": ("<=", "le"),
           "greater_than": (">", "gt"), "less_than": ("<", "lt")}
_PHRASES = {
    "finite_number": "must be a finite number",
    "int_type": "must be an integer", "int_parsing": "must be an integer", "int_from_float": "must be an integer",
    "float_type": "must be a number", "float_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false",
    "tuple_type": "must be a list", "list_type": "must be a list", "dict_type": "must be a table",
    "string_type": "must be a text string", "string_too_short": "must not be empty",
    "missing": "is required",
    "extra_forbidden": "is not a setting here (Extra inputs are not permitted); check the spelling or remove it",
}


def _bound(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def _phrase(error: Any) -> str:
    """One pydantic error as candor words it: ``must be >= 1``, ``must be one of a, b``…"""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        return re.sub(r"^(Value|Assertion) error, ", "", error["msg"])
    if kind in _BOUNDS and _BOUNDS[kind][1] in ctx:
        op, key = _BOUNDS[kind]
        return f"must be {op} {_bound(ctx[key])}"
    if kind == "literal_error":
        return "must be one of " + ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
    return _PHRASES.get(kind, error["msg"].replace("Input should be", "must be"))


def describe(error: ValidationError) -> str:
    """The first error of ``error`` as one line naming the field, the rule and the value received.

    A field's error reads ``\\`labels.horizon\\` must be >= 1. Got 0.``; a rule across fields (a
    model validator) carries its own full sentence, prefixed by its section (``\\`features\\`: …``).
    """
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    message = _phrase(first)
    if not field:
        return message
    value = first.get("input")
    if first["type"] == "extra_forbidden" or any(hint in field.lower() for hint in _SECRET_FIELDS):
        # A misspelt key's value, a URL, a token or a webhook may hold a secret: never echo it.
        return f"`{field}` {message} (the value is not shown: it may hold a secret)."
    if isinstance(value, dict):
        return f"`{field}`: {message}"
    return f"`{field}` {message}. Got {value!r}."


#: Parts of a field name whose value is never echoed in an error line.
_SECRET_FIELDS = ("token", "webhook", "password", "secret", "url", "uri", "storage")


# ---------------------------------------------------------------------------------- value types
def _is_bool(value: object) -> bool:
    """True for bool and numpy's bool_ (without importing numpy: config loads before any array)."""
    return isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", None) == "b"


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _integer(value: object) -> object:
    if _is_bool(value):
        raise ValueError("must be an integer")
    return value


def _real(value: object) -> object:
    if _is_bool(value):
        raise ValueError("must be a number")
    return value


def _boolean(value: object) -> object:
    if not _is_bool(value):
        raise ValueError("must be True or False")
    return bool(value)


def _probability(value: object) -> object:
    if value is not None and not (_is_real(value) and 0.0 <= float(value) <= 1.0):
        raise ValueError("must be a number in [0, 1]")
    return value


#: An integer (a bool is refused, not read as 0/1).
Int = Annotated[int, BeforeValidator(_integer)]
#: A finite number (a bool is refused).
Real = Annotated[float, BeforeValidator(_real)]
#: True or False only (no "yes", no 1).
Bool = Annotated[bool, BeforeValidator(_boolean)]
#: A number in [0, 1].
Probability = Annotated[float, BeforeValidator(_probability)]


class _RaisesConfigError(type(BaseModel)):  # pydantic's model metaclass
    """Building a spec by calling its class (``LabelSpec(horizon=0)``) raises :class:`ConfigError`;
    positional arguments are taken in field order (``LabelSpec("binary", 2)``).

    Only the direct call: a spec validated inside a :class:`~candor.config.Config` (or a stored
    manifest) raises pydantic's ValidationError, which keeps the dotted path (``labels.horizon``)
    for the caller to word. An ``__init__`` override would not do: pydantic calls it for nested
    models too, and the path would be lost.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if args:  # positional arguments in field order, as the dataclasses these specs replaced took them
            names = list(cls.model_fields)
            if len(args) > len(names) or set(names[:len(args)]) & set(kwargs):
                raise TypeError(f"{cls.__name__} takes at most {len(names)} arguments ({', '.join(names)}), "
                                "each given once")
            kwargs = {**dict(zip(names, args)), **kwargs}
        try:
            return super().__call__(**kwargs)
        except ValidationError as exc:
            raise ConfigError(describe(exc)) from None


class Spec(BaseModel, metaclass=_RaisesConfigError):
    """A frozen, validated setting; building one with a bad value raises :class:`ConfigError`."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# ---------------------------------------------------------------------------------- labels
class LabelSpec(Spec):
    """How a direction label is made from the future of each bar (see :mod:`candor.labels`)."""

    kind: Literal["threshold", "volscaled", "binary", "triple"] = "threshold"
    horizon: Int = Field(5, ge=1, description="bars ahead the label looks")
    threshold: Real = Field(0.002, ge=0.0, description="fixed return threshold (0.002 = ±0.2%)")
    vol_k: Real = Field(0.5, gt=0.0, description="volscaled: threshold in causal σ of horizon returns")
    vol_window: Int = Field(100, ge=2, description="values in the causal σ (volscaled, triple)")
    pt_sigma: Real = Field(1.0, gt=0.0, description="triple: upper barrier in σ")
    sl_sigma: Real = Field(1.0, gt=0.0, description="triple: lower barrier in σ")

    @property
    def classes(self) -> tuple[int, ...]:
        """The classes this kind can produce, in ascending order."""
        return (BEARISH, BULLISH) if self.kind == "binary" else (BEARISH, NEUTRAL, BULLISH)

    @property
    def warmup(self) -> int:
        """Leading rows dropped because the causal σ is not yet defined (0 for fixed kinds)."""
        return self.horizon + self.vol_window - 1 if self.kind in ("volscaled", "triple") else 0

    def describe(self) -> str:
        """A short human line, e.g. ``threshold ±0.20% over 5 bars``."""
        h = f"{self.horizon} bar{'s' if self.horizon != 1 else ''}"
        sigma = f"{self.vol_window}-bar σ of {self.horizon}-bar returns"
        if self.kind == "threshold":
            return f"threshold ±{self.threshold:.2%} over {h}"
        if self.kind == "volscaled":
            return f"volscaled ±{self.vol_k:g}σ ({sigma}) over {h}"
        if self.kind == "binary":
            return f"binary up/down over {h}"
        return f"triple barrier +{self.pt_sigma:g}σ/−{self.sl_sigma:g}σ ({sigma}), vertical at {h}"


# ---------------------------------------------------------------------------------- features
class FeatureSet(Spec):
    """Which feature groups to compute and with which short / medium / long periods.

    ``context_timeframes=None`` picks the next coarser useful timeframe automatically
    (intraday → ``("d1",)``, d1 → ``("w1",)``, w1 → none); whether a named one is coarser than the
    bars is known only with the bars (:func:`candor.features.context.resolve_context`).
    """

    groups: tuple[str, ...] = Field(FEATURE_GROUPS, description="feature groups; default every group")
    short: Int = 14
    medium: Int = 50
    long: Int = 200
    context_timeframes: tuple[str, ...] | None = None

    @field_validator("groups", mode="before")
    @classmethod
    def _all_when_unset(cls, groups: object) -> object:
        return FEATURE_GROUPS if groups is None else groups

    @field_validator("groups")
    @classmethod
    def _known_groups(cls, groups: tuple[str, ...]) -> tuple[str, ...]:
        if not groups or any(g not in FEATURE_GROUPS for g in groups):
            raise ValueError(f"must be a non-empty subset of {', '.join(FEATURE_GROUPS)}")
        return groups

    @field_validator("context_timeframes")
    @classmethod
    def _known_timeframes(cls, timeframes: tuple[str, ...] | None) -> tuple[str, ...] | None:
        unknown = [tf for tf in timeframes or () if tf not in TIMEFRAME_NAMES]
        if unknown:
            raise ValueError(f"entries must be one of {', '.join(TIMEFRAME_NAMES)}; {unknown[0]!r} is not")
        return timeframes

    @model_validator(mode="after")
    def _ordered_periods(self) -> FeatureSet:
        periods = (self.short, self.medium, self.long)
        if not 4 <= self.short < self.medium < self.long:
            raise ValueError("`periods` (short, medium, long) must be integers with 4 <= short < medium < long, "
                             f"e.g. 14, 50, 200. Got {periods}.")
        return self


# ---------------------------------------------------------------------------------- split
#: Rows a rolling window trains on unless ``split.train_size`` says otherwise (~4 years of daily bars).
ROLLING_TRAIN_SIZE = 1000


#: SplitSpec fields left out of its dump while at their defaults (config hashes stay as before).
_CV_FIELDS = ("cv", "cpcv_groups", "cpcv_test_groups")


class SplitSpec(Spec):
    """Purged walk-forward evaluation windows. ``None`` purge/embargo mean "= labels.horizon"."""

    folds: Int = Field(5, ge=2)
    window: Literal["expanding", "rolling"] = "expanding"
    train_size: Int | None = Field(None, ge=1, description="rows a rolling window trains on (rolling only; "
                                   f"default {ROLLING_TRAIN_SIZE} there)")
    purge: Int | None = Field(None, ge=0)
    embargo: Int | None = Field(None, ge=0)
    holdout: Real = Field(0.15, gt=0.0, lt=0.5, description="newest share of rows never used for selection")
    cv: Literal["walk_forward", "cpcv"] = Field(
        "walk_forward", description="'cpcv' also scores combinatorial purged CV paths of the development rows "
        "(the walk-forward still gives the verdict and fits the blend)")
    cpcv_groups: Int = Field(6, ge=2, description="cpcv: N contiguous groups of the development rows")
    cpcv_test_groups: Int = Field(2, ge=1, description="cpcv: k test groups per split (C(N,k) splits, C(N,k)·k/N paths)")

    @model_serializer(mode="wrap")
    def _omit_default_cv(self, handler: Any) -> Any:
        # The CPCV settings are recorded only when they differ from the defaults, so every config
        # hash (and manifest) from before they existed is unchanged.
        data = handler(self)
        if isinstance(data, dict):
            for name in _CV_FIELDS:
                if name in data and data[name] == SplitSpec.model_fields[name].default:
                    del data[name]
        return data

    @model_validator(mode="before")
    @classmethod
    def _rolling_default(cls, data: Any) -> Any:
        # The default is the window's, so an expanding split records no train_size (its config hash
        # is unchanged) and a rolling one records the rows it trained on.
        if isinstance(data, dict) and data.get("window") == "rolling" and data.get("train_size") is None:
            return {**data, "train_size": ROLLING_TRAIN_SIZE}
        return data

    @model_validator(mode="after")
    def _window_size(self) -> SplitSpec:
        if self.cpcv_test_groups >= self.cpcv_groups:
            raise ValueError(f"`cpcv_test_groups` ({self.cpcv_test_groups}) must be smaller than `cpcv_groups` "
                             f"({self.cpcv_groups}): some groups must be left to train on.")
        if self.window == "expanding" and self.train_size is not None:
            raise ValueError(f"`train_size` ({self.train_size}) applies only to window = 'rolling'; set "
                             "window = 'rolling' or remove train_size.")
        return self


# ---------------------------------------------------------------------------------- models
class ModelSpec(Spec):
    """The ensemble: which catalog members, how they are weighted, scaled, pruned and threaded."""

    models: tuple[str, ...] = ("rf", "gb", "xgb", "lgbm")
    ensemble: Literal["ridge", "stacking", "equal"] = "ridge"
    scaling: Literal["standard", "minmax", "robust", "none"] = "standard"
    prune_threshold: Real | None = Field(0.95, gt=0.0, le=1.0)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict, description="hyper-parameter overrides per model")
    n_jobs: Int = Field(1, ge=1, description="threads per model fit")
    fold_jobs: Int = Field(1, ge=1, description="outer folds fitted in parallel processes (the CLI uses every core)")
    class_weight: Literal["none", "balanced"] = Field(
        "none", description="'balanced' trains members as if every class were equally common (opt-in: it "
        "pushes predictions toward rare classes; use it only where it improves the pooled OOS log-loss)")
    shrink_to_prior: Bool = Field(
        True, description="blend the ensemble with the class prior, the weight fit on out-of-fold rows")

    @model_validator(mode="before")
    @classmethod
    def _retired_settings(cls, data: Any) -> Any:
        # A setting that no longer does anything is refused by name, not ignored: a user who set it
        # would otherwise believe it still shapes the model.
        if isinstance(data, dict) and "inner_splits" in data:
            raise ValueError("`inner_splits` no longer exists: the blend's weights and prior share are fit on the "
                             "earlier walk-forward folds' out-of-fold rows, not on inner splits. Delete the line "
                             "(tuning's inner folds are `tune.inner_splits`).")
        return data

    @field_validator("models")
    @classmethod
    def _known_models(cls, models: tuple[str, ...]) -> tuple[str, ...]:
        if not models:
            raise ValueError("at least one model is needed")
        unknown = [m for m in models if m not in MODEL_CHOICES]
        if unknown:
            raise ValueError(f"unknown model {unknown[0]!r}; choose from {', '.join(MODEL_CHOICES)}")
        repeated = sorted({m for m in models if models.count(m) > 1})
        if repeated:
            raise ValueError(f"names {repeated[0]!r} twice; list each model once")
        return models

    @field_validator("params")
    @classmethod
    def _params_of_known_models(cls, params: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        unknown = sorted(set(params) - set(MODEL_CHOICES))
        if unknown:
            raise ValueError(f"names {unknown[0]!r}, which is not a catalog model; use one of {', '.join(MODEL_CHOICES)}")
        return params


# ---------------------------------------------------------------------------------- backtest
def _execution(value: object) -> object:
    if value not in EXECUTIONS:
        raise ValueError("must be 'next_open' or 'next_close' (a signal trades on the bar after the one that "
                         "produced it; same-bar execution is not offered)")
    return value


def _basis_points(value: object) -> object:
    if not (_is_real(value) and math.isfinite(value) and value >= 0):
        raise ValueError("must be a finite number >= 0 (basis points)")
    return value


def _confidence(value: object) -> object:
    if value is not None and not (_is_real(value) and 0.0 < value <= 1.0):
        raise ValueError("must be in (0, 1]; leave it out (None) for no threshold")
    return value


def _periods(value: object) -> object:
    if value is not None and not (_is_real(value) and math.isfinite(value) and value > 0):
        raise ValueError("must be > 0, or None to infer it from the bar timeframe")
    return value


def _rate(value: object) -> object:
    if not (_is_real(value) and math.isfinite(value) and value > -1):
        raise ValueError("must be an annual rate > -1, e.g. 0.02")
    return value


class BacktestConfig(Spec):
    """How out-of-sample class probabilities become positions, trades and costs.

    * ``short_on_bearish`` – BEARISH → -1 (True) or flat (False, the default: many accounts
      cannot short, and a long/flat result is the honest baseline).
    * ``execution`` – ``"next_open"``: the signal of bar t trades at bar t+1's open and is held
      open[t+1] → open[t+2]; ``"next_close"``: trades at bar t+1's close, held close[t+1] → close[t+2].
      There is deliberately no same-bar execution.
    * ``cost_bps`` / ``slippage_bps`` – charged per unit of turnover, ``|Δposition|``, on the
      period the trade opens (1 bp = 0.0001).
    * ``min_confidence`` – flat when the winning class probability is below it; in (0, 1], or
      None for no threshold.
    * ``size_by_confidence`` – position size ``(p_max - 1/3) / (2/3)`` in [0, 1] instead of 1.
    * ``periods_per_year`` – annualisation; ``None`` infers it from the bar timeframe/calendar.
    * ``risk_free`` – annual rate, converted per period as ``(1 + rf) ** (1 / ppy) - 1``.
    """

    short_on_bearish: Bool = False
    execution: Annotated[Literal["next_open", "next_close"], BeforeValidator(_execution)] = "next_open"
    cost_bps: Annotated[float, BeforeValidator(_basis_points)] = 1.0
    slippage_bps: Annotated[float, BeforeValidator(_basis_points)] = 0.0
    min_confidence: Annotated[float | None, BeforeValidator(_confidence)] = None
    size_by_confidence: Bool = False
    periods_per_year: Annotated[float | None, BeforeValidator(_periods)] = None
    risk_free: Annotated[float, BeforeValidator(_rate)] = 0.0

    @property
    def cost_rate(self) -> float:
        """Fraction of equity paid per unit of turnover (costs plus slippage)."""
        return (self.cost_bps + self.slippage_bps) * 1e-4


# ---------------------------------------------------------------------------------- gates
class GateSpec(Spec):
    """The one gate list: what a version must show to be tagged ``validated``.

    The same gates decide ``candor train``'s exit code (2 when any fails) and the registry tag.
    Minimums are set above what guessing the majority class scores on a near-balanced direction
    label; ``section`` picks the report part judged (``oos``, the pooled purged walk-forward
    predictions, is the larger sample and the one the significance test ran on). A backtest
    minimum of ``None`` turns that check off. 30 trades: with fewer the Sharpe and hit rate are
    mostly noise; deflated Sharpe 0.95: 95% confidence that the after-cost Sharpe beats the best of
    every configuration tried.
    """

    min_accuracy: Probability = 0.60
    min_precision: Probability = 0.55
    min_recall: Probability = 0.50
    min_f1: Probability = 0.52
    section: Literal["oos", "holdout"] = "oos"
    require_edge: Bool = Field(True, description="the out-of-sample lift over the best baseline must be significant")
    require_adjusted_edge: Bool = Field(
        True, description="in a universe, the edge must stay significant after universe.correction")
    min_backtest_sharpe: Real | None = Field(0.5, description="annualised after-cost Sharpe")
    min_backtest_trades: Int | None = Field(30, ge=0)
    min_deflated_sharpe: Annotated[float | None, BeforeValidator(_probability)] = Field(
        0.95, description="deflated Sharpe ratio (a probability)")


class RegistrySpec(GateSpec):
    """``[registry]``: the gates, the promotion margin and the one age rule for serving a champion
    (forecast job, API, drift, weekly update); ``max_model_age_days = None`` means no limit."""

    promotion_margin: Probability = 0.0
    max_model_age_days: Int | None = Field(60, ge=1, description="oldest champion that may serve; None = no limit")
