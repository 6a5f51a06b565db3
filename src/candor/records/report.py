"""The training report: what one training measured, built once and stored as JSON.

Why records and not a dict: the gates, the registry's version tags, the drift monitor, the
dashboard and the CLI all read the report; attributes make a misspelt key fail in a test rather
than read as a silent ``None``. The stored form is the live form: ``candor train --output-json``,
MLflow's ``report/report.json``, the ``training_runs.report`` column and
``manifest.json["report"]`` all hold ``report.model_dump_json()``, and reports stored by earlier
versions read with ``TrainingReport.model_validate`` (every section may be absent there; a gate
then reports what is missing).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BeforeValidator, PlainSerializer, ValidationError, computed_field
from typing import Annotated

from candor.errors import RegistryError
from candor.records.backtest import BacktestSummary
from candor.records.evaluation import Evaluation
from candor.records.values import JsonObject, Num, NumberMap, Record, Text, count, plain


def utc(value: object) -> pd.Timestamp:
    """A stored timestamp as a UTC ``Timestamp`` (naive text is read as UTC, as bars are)."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


#: A UTC timestamp, stored in ISO form.
UtcStamp = Annotated[pd.Timestamp, BeforeValidator(utc), PlainSerializer(lambda t: t.isoformat(), return_type=str)]


class DataSpan(Record):
    """The bars one training read, as UTC timestamps.

    Every bar from ``first_bar`` to ``last_bar`` fed a feature or a label (the last holdout
    labels look ``horizon`` bars ahead, up to ``last_bar``). ``dev_*`` are the development rows
    (walk-forward folds and the production fit), ``holdout_*`` the rows that judged the model.
    The manifest stores it so a replay can refuse those bars (:mod:`candor.backtest.replay`).
    """

    model_config = {**Record.model_config, "arbitrary_types_allowed": True}

    first_bar: UtcStamp
    last_bar: UtcStamp
    dev_start: UtcStamp
    dev_end: UtcStamp
    dev_rows: int
    holdout_start: UtcStamp
    holdout_end: UtcStamp
    holdout_rows: int


class FoldSummary(Record):
    """One outer walk-forward fold: its rows, test span, scores, baselines and ensemble weights."""

    index: int
    train_rows: int
    test_rows: int
    test_start: str
    test_end: str
    accuracy: float
    f1: float
    train_accuracy: float
    baselines: NumberMap = {}
    weights: NumberMap = {}
    prior_weight: Num = None  # λ of this fold's blend: the class prior's share of its forecast


#: λ at or above this: the served forecast is (nearly) the class prior, whatever the features say.
PRIOR_DOMINANT = 0.9
PRIOR_NOTE = "this model forecasts the class frequencies"


def prior_note(prior_weight: float | None) -> str | None:
    """The one sentence a reader of the weights must see when λ ≥ :data:`PRIOR_DOMINANT`, else None."""
    if prior_weight is None or prior_weight < PRIOR_DOMINANT:
        return None
    return f"{PRIOR_NOTE} (class prior {prior_weight:.0%} of every forecast)"


def weights_text(weights: dict[str, float], prior_weight: float | None) -> str:
    """Member weights beside the prior's share λ, as one line: ``prior λ 84% · members 16%: lgbm 66%, xgb 34%``.

    The member weights split the ``1 − λ`` the prior leaves over; a report written before λ was
    recorded shows the weights alone.
    """
    members = ", ".join(f"{name} {w:.0%}" for name, w in sorted(weights.items(), key=lambda kv: -kv[1]))
    if prior_weight is None:
        return members or "-"
    return f"prior λ {prior_weight:.0%} · members {1 - prior_weight:.0%}" + (f": {members}" if members else "")


class MemberScore(Record):
    """One ensemble member on the pooled walk-forward rows (mean train accuracy over folds)."""

    train_accuracy: float
    oos_accuracy: float
    f1: float


class ImportanceRow(Record):
    """Permutation importance of one feature on the holdout (accuracy drop, and its spread)."""

    feature: str
    importance: Num = None
    std: Num = None


class CalibrationBin(Record):
    """One reliability bin of top-class confidence; an empty bin has count 0 and no means."""

    bin: int
    lower: float
    upper: float
    mean_confidence: Num = None
    accuracy: Num = None
    count: int


def _scores(value: object) -> object:
    """Stored scores: finite numbers in [0, 1] only (anything else is dropped, so a damaged list
    calibrates on fewer rows rather than on wrong ones)."""
    if not isinstance(value, list | tuple):
        return ()
    kept = []
    for v in value:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if 0.0 <= f <= 1.0:
            kept.append(f)
    return tuple(kept)


class ConformalCalibration(Record):
    """What the forecast job needs to build conformal sets for this model (:mod:`candor.conformal`):
    the nonconformity scores ``1 − p̂(true class)`` of its out-of-sample rows, oldest first.

    ``source`` names the rows: ``holdout`` (the served model on rows it never saw) or ``oos`` (the
    pooled walk-forward rows, when the holdout is too short). A report written before this section
    existed has none, and its champion forecasts with a null set and a note.
    """

    score: str = "lac"
    source: str = "holdout"
    scores: Annotated[tuple[float, ...], BeforeValidator(_scores)] = ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n(self) -> int:
        return len(self.scores)


def _conformal(value: object) -> object:
    return value if isinstance(value, dict | Record) and value else None


def _n_trials(value: object) -> int:
    return count(value) or 1


def _records(value: object) -> object:
    return value if isinstance(value, list | tuple) else ()


def _objects(value: object) -> object:
    return tuple(plain(v) for v in value if isinstance(v, dict)) if isinstance(value, list | tuple) else ()


def _mapping(value: object) -> object:
    """A section as given (a record, or its stored JSON object); anything else reads as empty."""
    return value if isinstance(value, dict | Record) else {}


class TrainingReport(Record):
    """What one training measured (field names are the JSON keys; ``folds`` is their count)."""

    symbol: Text = None
    timeframe: Text = None
    n_samples: Annotated[int | None, BeforeValidator(count)] = None
    label: Text = None
    horizon: Annotated[int | None, BeforeValidator(count)] = None
    class_distribution: NumberMap = {}
    fold_details: Annotated[tuple[FoldSummary, ...], BeforeValidator(_records)] = ()
    models: Annotated[dict[str, MemberScore], BeforeValidator(_mapping)] = {}
    weights: NumberMap = {}
    prior_weight: Num = None  # λ: the class prior's share of the served forecast (candor.blend.Blend.prior_weight_)
    oos: Annotated[Evaluation, BeforeValidator(_mapping)] = Evaluation()
    holdout: Annotated[Evaluation, BeforeValidator(_mapping)] = Evaluation()
    backtest: Annotated[BacktestSummary | None, BeforeValidator(lambda v: v or None)] = None
    n_trials: Annotated[int, BeforeValidator(_n_trials)] = 1
    tuning: JsonObject = None  # candor.training.tuning.tuning_summary: best params, studies, trials
    feature_importance: Annotated[tuple[ImportanceRow, ...], BeforeValidator(_records)] = ()
    calibration: Annotated[tuple[CalibrationBin, ...], BeforeValidator(_records)] = ()
    conformal: Annotated[ConformalCalibration | None, BeforeValidator(_conformal)] = None
    data_fingerprint: Text = None
    config_hash: Text = None
    timings: NumberMap = {}
    derived: Annotated[tuple[dict[str, Any], ...], BeforeValidator(_objects)] = ()  # DerivedSetting records

    @computed_field  # type: ignore[prop-decorator]
    @property
    def folds(self) -> int:
        return len(self.fold_details)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def prior_note(self) -> str | None:
        """The λ ≥ 0.9 sentence (:func:`prior_note`), stored in the JSON so every reader shows the same words."""
        return prior_note(self.prior_weight)

    @property
    def n_folds(self) -> int:
        return len(self.fold_details)


def parse_report(data: object) -> TrainingReport:
    """A stored report (a JSON object or text); a malformed one raises :class:`RegistryError` naming it."""
    try:
        if isinstance(data, str | bytes):
            return TrainingReport.model_validate_json(data)
        return TrainingReport.model_validate(data if isinstance(data, dict) else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RegistryError(f"the stored training report is malformed ({where}: {first['msg']}); "
                            "it was not written by candor — retrain the model to replace it.") from None
