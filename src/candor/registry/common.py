"""Names, tags, typed rows and MLflow-error translation shared by the registry modules.

Why one place: the registered-model name (``candor.<SYMBOL>.<timeframe>``), the version tags and
the wording of "unknown model / version / alias" must be identical in the library, the CLI and
the loader, and every MLflow exception must surface as a one-line candor error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from candor.config import mask_urls, safe_uri
from candor.data.bars import TIMEFRAMES, check_symbol, check_timeframe
from candor.errors import ConfigError, InvalidNameError, NotFoundError, RegistryError, StoreError

if TYPE_CHECKING:
    from candor.records.manifest import Manifest

PREFIX = "candor."
STATUS = "status"
STAGED, VALIDATED, FAILED, ARCHIVED = "staged", "validated", "failed", "archived"
STATUSES = (STAGED, VALIDATED, FAILED, ARCHIVED)
MANIFEST_SHA = "manifest_sha256"
GATE_REASONS = "gate_reasons"
#: Run tags naming the process that publishes a run, and how far its publish got: ``publishing``
#: from the run's creation until its version is registered, recorded and its artifact in place,
#: then ``published``; ``interrupted`` once :mod:`candor.registry.repair` found its writer dead.
OWNER_PID, OWNER_HOST, PUBLISH_STATE = "candor.pid", "candor.host", "candor.state"
PUBLISHING, PUBLISHED, INTERRUPTED = "publishing", "published", "interrupted"
#: Numbers copied from the report onto each version as tags (history, compare, the MLflow UI).
METRIC_TAGS = ("oos_accuracy", "oos_precision", "oos_recall", "oos_f1", "oos_lift", "oos_p_value",
               "holdout_accuracy", "holdout_f1", "holdout_lift")
#: Version tags holding the blend: member weights ("rf=0.34,lgbm=0.66") and the class prior's share λ.
WEIGHTS_TAG, PRIOR_WEIGHT_TAG = "weights", "prior_weight"


def weights_tag(weights: dict[str, float]) -> str:
    """Member weights as the WEIGHTS_TAG text (4 significant digits: two refits that agree to them
    are the same weights — the weekly job registers no version for them)."""
    return ",".join(f"{name}={w:.4g}" for name, w in weights.items())
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")
#: The label horizon whose models carry the plain name; other horizons get a ``.h<N>`` suffix.
DEFAULT_HORIZON = 5
_HORIZON_SUFFIX = re.compile(r"\.h(\d+)$")
#: What gives a fresh home its first champion (the empty dashboard and ``candor registry list`` show
#: it): train the embedded S&P 500 series, which registers version 1 of candor.SPX.d1, then promote
#: that version with ``--force``. The gates usually refuse a daily index — often the honest answer,
#: and ``candor train`` then exits 2 — so only ``--force`` (audited as such) makes it champion.
FIRST_CHAMPION_STEPS = ("candor train --dataset sp500",
                        'candor registry promote SPX/d1 1 --force --reason "first look; gates not met"')
#: A version number or an MLflow alias, optionally written ``@alias``.
_VERSION_REF = re.compile(r"@?[A-Za-z0-9_-]{1,64}")


def model_name(symbol: str, timeframe: str, horizon: int | None = None) -> str:
    """``candor.SPX.d1``; characters MLflow or URLs dislike (``/`` in ``BTC/USDT``) become ``-``.

    Multi-horizon: one model per horizon. ``horizon`` None or :data:`DEFAULT_HORIZON` keeps the
    plain name (so every existing name stays valid); any other horizon is ``candor.SPX.d1.h20``.
    """
    name = f"{PREFIX}{_SAFE.sub('-', symbol)}.{_SAFE.sub('-', timeframe)}"
    return name if horizon is None or int(horizon) == DEFAULT_HORIZON else f"{name}.h{int(horizon)}"


def manifest_model_name(manifest: Manifest) -> str:
    """The registered name for an artifact manifest: series plus its label horizon."""
    return model_name(manifest.symbol, manifest.timeframe, manifest.label_spec.horizon)


def resolve_name(text: str) -> str:
    """Accept ``candor.SPX.d1`` or ``SPX/d1`` (what users type) and return the registered name.

    Only a name a candor model can have passes: in ``SYMBOL/timeframe`` the symbol follows the
    symbol rule (:data:`candor.data.bars.SYMBOL_PATTERN`; ``BTC/USDT/h1`` is read as BTC-USDT) and
    the timeframe is one of :data:`candor.data.bars.TIMEFRAMES`; ``candor.…`` names must parse
    (:func:`parse_model_name`). Raises :class:`InvalidNameError` without touching any store."""
    text = text.strip()
    if "/" in text and not text.startswith(PREFIX):
        symbol, _, timeframe = text.rpartition("/")
        try:
            check_symbol(symbol.replace("/", "-"))
            check_timeframe(timeframe)
        except ConfigError as exc:
            raise InvalidNameError(
                f"model name {text!r} is not a candor model ({exc}); use SYMBOL/timeframe (e.g. SPX/d1) or "
                "candor.<SYMBOL>.<timeframe> (e.g. candor.SPX.d1)."
            ) from None
        return model_name(symbol, timeframe)
    return parse_model_name(text).name


def check_version_ref(version: str | int) -> str:
    """A version number (``3``) or an alias (``champion``, ``@previous``), else
    :class:`InvalidNameError` — before any store is opened."""
    text = str(version).strip()
    if not _VERSION_REF.fullmatch(text):
        raise InvalidNameError(f"`version` must be a version number or an alias such as champion or previous. "
                               f"Got {str(version)!r}.")
    return text


@dataclass(frozen=True)
class ModelRef:
    """What a registered name says: the series (symbol as it appears in the name) and horizon."""

    symbol: str
    timeframe: str
    horizon: int = DEFAULT_HORIZON

    @property
    def name(self) -> str:
        return model_name(self.symbol, self.timeframe, self.horizon)


def parse_model_name(name: str) -> ModelRef:
    """The inverse of :func:`model_name`: ``candor.SPX.d1`` → (SPX, d1, 5), ``candor.SPX.d1.h20``
    → (SPX, d1, 20). Raises :class:`InvalidNameError` for a name :func:`model_name` cannot build."""
    symbol, timeframe, horizon = _split_name(name)
    horizon = DEFAULT_HORIZON if horizon is None else horizon
    if not name.startswith(PREFIX) or not symbol or symbol.startswith(".") or ".." in symbol \
            or timeframe not in TIMEFRAMES or horizon < 1 or model_name(symbol, timeframe, horizon) != name:
        raise InvalidNameError(
            f"model name {name!r} is not a candor model; use candor.<SYMBOL>.<timeframe>[.h<horizon>] "
            "(e.g. candor.SPX.d1 or candor.SPX.d1.h20)."
        )
    return ModelRef(symbol, timeframe, horizon)


def series_label(name: str) -> str:
    """``candor.SPX.d1`` → ``SPX/d1`` (``candor.SPX.d1.h20`` → ``SPX/d1 h20``) for messages."""
    symbol, timeframe, horizon = _split_name(name)
    return f"{symbol}/{timeframe}{'' if horizon is None else f' h{horizon}'}"


def _split_name(name: str) -> tuple[str, str, int | None]:
    """Symbol, timeframe and the ``.h<N>`` suffix's horizon (None without one); never raises."""
    base, horizon = name, None
    match = _HORIZON_SUFFIX.search(name)
    if match and name[: match.start()].rpartition(".")[2] in TIMEFRAMES:
        base, horizon = name[: match.start()], int(match.group(1))
    symbol, _, timeframe = base.removeprefix(PREFIX).rpartition(".")
    return symbol, timeframe, horizon


@dataclass(frozen=True)
class RegisteredVersion:
    """One model version as the registry sees it after register / validate / promote."""

    name: str
    version: str
    run_id: str | None
    status: str
    manifest_sha256: str
    gate_reasons: tuple[str, ...] = ()
    promoted: bool = False
    note: str = ""


@dataclass(frozen=True)
class HistoryRow:
    """One line of ``candor registry history``."""

    version: str
    status: str
    aliases: tuple[str, ...]
    created: datetime
    run_id: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    verdict: str | None = None
    gate_reasons: str = ""


@dataclass(frozen=True)
class ModelSummary:
    """One line of ``candor registry list``."""

    name: str
    versions: int
    latest: str | None
    champion: str | None
    previous: str | None
    weights: str | None = None  # the champion's WEIGHTS_TAG ("name=w,…"), None for versions older than it
    prior_weight: float | None = None  # the champion's λ (PRIOR_WEIGHT_TAG)

    @property
    def member_weights(self) -> dict[str, float]:
        """The champion's member weights read back from its tag ({} where absent or unreadable)."""
        out: dict[str, float] = {}
        for part in (self.weights or "").split(","):
            name, _, value = part.partition("=")
            try:
                out[name] = float(value)
            except ValueError:
                continue
        return out


@dataclass(frozen=True)
class Comparison:
    """Challenger vs champion on one holdout; ``basis`` says how the scores were obtained.

    ``challenger_wins``: validated and not significantly worse (:mod:`candor.registry.compare`).
    With ``tested`` (both re-scored on the same rows) the paired test's ``lift`` (challenger −
    champion accuracy), CI, ``p_value`` at ``alpha`` and ``significantly_worse`` are set; untested
    (stored accuracies only) ``lift`` is the difference of the stored accuracies and the rest None.
    The fields after ``promoted`` were added with the paired test and all have defaults, so a
    Comparison built positionally by earlier code still builds.
    """

    name: str
    challenger: str
    champion: str | None
    challenger_accuracy: float
    champion_accuracy: float | None
    margin: float
    challenger_wins: bool
    basis: str
    promoted: bool = False
    challenger_status: str | None = None  # "validated" / "failed" (gates) / "staged"
    tested: bool = False
    rows: int | None = None
    lift: float | None = None
    lift_ci_low: float | None = None
    lift_ci_high: float | None = None
    p_value: float | None = None
    alpha: float | None = None
    block_length: int | None = None
    significantly_worse: bool = False

    @property
    def failed_gates(self) -> bool:
        """The challenger failed its gates (whatever its accuracy)."""
        return self.challenger_status == FAILED

    @property
    def verdict(self) -> str:
        """The comparison in words: "worse" only where the paired test says so."""
        if self.champion is None:
            return "no champion yet"
        if self.tested:
            low, high = self.lift_ci_low or 0.0, self.lift_ci_high or 0.0
            if self.significantly_worse:
                return "significantly worse" + (f" (by more than the margin {self.margin:g})" if self.margin else "")
            return ("significantly better" if low > 0 else "not significantly different" if high >= 0 else
                    f"significantly worse, but within the margin {self.margin:g}")
        return ("not tested: lower stored accuracy" if (self.lift or 0.0) < 0 else "not tested: stored accuracy "
                "not lower")

    def summary(self) -> str:
        """One line: accuracies, lift [CI], p and the verdict, and whether the gates were passed."""
        against = (f" vs champion {self.champion} {self.champion_accuracy:.1%}" if self.champion is not None
                   and self.champion_accuracy is not None else "")
        stats = ""
        if self.tested and self.lift is not None:
            level = f"{1 - (self.alpha or 0.05):.0%}"
            stats = (f", lift {self.lift:+.1%} [{level} CI {self.lift_ci_low:+.1%}, {self.lift_ci_high:+.1%}], "
                     f"p = {self.p_value:.3f}")
        gates = ("; the challenger failed its gates" if self.failed_gates else
                 f"; the challenger is {self.challenger_status}, not validated"
                 if self.challenger_status not in (None, VALIDATED) else "")
        return (f"challenger {self.challenger} {self.challenger_accuracy:.1%}{against}{stats} — "
                f"{self.verdict}{gates}")


def is_not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def mlflow_errors(uri: str) -> Iterator[None]:
    """Turn any MLflow exception that escaped the specific checks into one-line StoreError."""
    try:
        yield
    except Exception as exc:
        # lazy: this module (and the registry package) imports without MLflow; an MLflow exception
        # can only have been raised once MLflow was imported
        from mlflow.exceptions import MlflowException

        if not isinstance(exc, MlflowException):
            raise
        if is_not_found(exc):
            raise NotFoundError(first_line(exc)) from exc
        # MLflow's message quotes the request's URL, password included: masked like every printed URL
        raise StoreError(f"MLflow registry at {safe_uri(uri)} refused the request: "
                         f"{mask_urls(first_line(exc))}") from exc


class Lazy:
    """An object built on first attribute use by ``open`` (then every attribute is the built
    object's): the services hand out MLflow's client and the tracking experiment this way, so a
    job that reads champions through :mod:`candor.registry.direct` never imports MLflow nor opens
    its stores, and a job that writes opens them at its first write."""

    def __init__(self, open: Callable[[], Any]) -> None:
        self._open = open
        self._built: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._built is None:
            self._built = self._open()
        return getattr(self._built, name)
