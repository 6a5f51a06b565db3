"""The training report as typed records, built once per training and stored as JSON.

Why records and not a dict: the gates, the registry's version tags, the drift monitor, the
dashboard and the CLI all read the report; attributes make a misspelt key fail in a test rather
than read as a silent ``None``, and one ``to_dict`` / ``from_dict`` pair is the only place that
knows the JSON shape.

That shape is the one ``candor train --output-json``, MLflow's ``report/report.json``, the
``training_runs.report`` column and ``manifest.json["report"]`` have always held — symbol,
timeframe, n_samples, label, horizon, folds (a count), fold_details, models, weights, oos{...},
holdout{...}, backtest{...}, n_trials, tuning, feature_importance, calibration, timings — so
reports stored by earlier versions parse with :meth:`TrainingReport.from_dict`. Every section
may be absent there (a gate then reports what is missing).

:class:`DataSpan` is which bars a training read; the manifest stores it so a replay can refuse
those bars (:mod:`candor.backtest.replay`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
import numpy as np
import pandas as pd

from candor.errors import RegistryError
from candor.training.summaries import (
    BacktestSummary, EvaluationSummary, JsonObject, json_object, json_safe, mapping, number, numbers, sequence, text,
)


def utc(value: object) -> pd.Timestamp:
    """A stored timestamp as a UTC ``Timestamp`` (naive text is read as UTC, as bars are)."""
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


@dataclass(frozen=True)
class DataSpan:
    """The bars one training read, as UTC timestamps.

    Every bar from ``first_bar`` to ``last_bar`` fed a feature or a label (the last holdout
    labels look ``horizon`` bars ahead, up to ``last_bar``). ``dev_*`` are the development rows
    (walk-forward folds and the production fit), ``holdout_*`` the rows that judged the model.
    """

    first_bar: pd.Timestamp
    last_bar: pd.Timestamp
    dev_start: pd.Timestamp
    dev_end: pd.Timestamp
    dev_rows: int
    holdout_start: pd.Timestamp
    holdout_end: pd.Timestamp
    holdout_rows: int

    @classmethod
    def from_rows(cls, bars_index: pd.DatetimeIndex, rows: pd.DatetimeIndex, dev: np.ndarray,
                  hold: np.ndarray) -> DataSpan:
        """The span of a training on ``bars_index`` whose labelled ``rows`` split into ``dev`` / ``hold``."""
        return cls(first_bar=utc(bars_index[0]), last_bar=utc(bars_index[-1]), dev_start=utc(rows[dev[0]]),
                   dev_end=utc(rows[dev[-1]]), dev_rows=len(dev), holdout_start=utc(rows[hold[0]]),
                   holdout_end=utc(rows[hold[-1]]), holdout_rows=len(hold))

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> DataSpan:
        return cls(**{f.name: int(data[f.name]) if f.name.endswith("_rows") else utc(data[f.name])
                      for f in dataclasses.fields(cls)})

    def to_dict(self) -> JsonObject:
        return {f.name: getattr(self, f.name) if f.name.endswith("_rows") else getattr(self, f.name).isoformat()
                for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class FoldSummary:
    """One outer walk-forward fold: its rows, test span, scores, baselines and ensemble weights."""

    index: int
    train_rows: int
    test_rows: int
    test_start: str
    test_end: str
    accuracy: float
    f1: float
    train_accuracy: float
    baselines: dict[str, float]
    weights: dict[str, float]

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FoldSummary:
        return cls(index=int(data["index"]), train_rows=int(data["train_rows"]),
                   test_rows=int(data["test_rows"]), test_start=str(data["test_start"]),
                   test_end=str(data["test_end"]), accuracy=float(data["accuracy"]),
                   f1=float(data["f1"]), train_accuracy=float(data["train_accuracy"]),
                   baselines=numbers(data.get("baselines")), weights=numbers(data.get("weights")))


@dataclass(frozen=True)
class MemberScore:
    """One ensemble member on the pooled walk-forward rows (mean train accuracy over folds)."""

    train_accuracy: float
    oos_accuracy: float
    f1: float

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> MemberScore:
        return cls(float(data["train_accuracy"]), float(data["oos_accuracy"]), float(data["f1"]))


@dataclass(frozen=True)
class ImportanceRow:
    """Permutation importance of one feature on the holdout (accuracy drop, and its spread)."""

    feature: str
    importance: float | None
    std: float | None

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ImportanceRow:
        return cls(str(data["feature"]), number(data.get("importance")), number(data.get("std")))


@dataclass(frozen=True)
class CalibrationBin:
    """One reliability bin of top-class confidence; an empty bin has count 0 and no means."""

    bin: int
    lower: float
    upper: float
    mean_confidence: float | None
    accuracy: float | None
    count: int

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> CalibrationBin:
        return cls(int(data["bin"]), float(data["lower"]), float(data["upper"]),
                   number(data.get("mean_confidence")), number(data.get("accuracy")), int(data["count"]))


#: The report's parts that serialise themselves (their parsing rules live in their own module).
_SECTIONS = (EvaluationSummary, BacktestSummary)


@dataclass(frozen=True)
class TrainingReport:
    """What one training measured, in the JSON shape of the module docstring."""

    symbol: str | None = None
    timeframe: str | None = None
    n_samples: int | None = None
    label: str | None = None
    horizon: int | None = None
    class_distribution: dict[str, float] = field(default_factory=dict)
    fold_details: tuple[FoldSummary, ...] = ()
    models: dict[str, MemberScore] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    oos: EvaluationSummary = field(default_factory=EvaluationSummary)
    holdout: EvaluationSummary = field(default_factory=EvaluationSummary)
    backtest: BacktestSummary | None = None
    n_trials: int = 1
    tuning: JsonObject | None = None  # candor.training.tuning.tuning_summary: best params, studies, trials
    feature_importance: tuple[ImportanceRow, ...] = ()
    calibration: tuple[CalibrationBin, ...] = ()
    data_fingerprint: str | None = None
    config_hash: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    derived: tuple[JsonObject, ...] = ()  # candor.training.runconfig.DerivedSetting records

    @property
    def n_folds(self) -> int:
        return len(self.fold_details)

    def to_dict(self) -> JsonObject:
        out: JsonObject = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "fold_details":
                out["folds"] = self.n_folds
            out[f.name] = value.to_dict() if isinstance(value, _SECTIONS) else json_safe(_plain(value))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> TrainingReport:
        """Parse a stored report; a malformed record raises :class:`RegistryError` naming it."""
        try:
            return cls._parse(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"the stored training report is malformed ({type(exc).__name__}: {exc}); "
                                "it was not written by candor — retrain the model to replace it.") from None

    @classmethod
    def _parse(cls, data: Mapping[str, object]) -> TrainingReport:
        backtest = mapping(data.get("backtest"))
        tuning = data.get("tuning")
        n_samples, horizon = number(data.get("n_samples")), number(data.get("horizon"))
        return cls(
            symbol=text(data.get("symbol")), timeframe=text(data.get("timeframe")),
            n_samples=None if n_samples is None else int(n_samples), label=text(data.get("label")),
            horizon=None if horizon is None else int(horizon),
            class_distribution=numbers(data.get("class_distribution")),
            fold_details=tuple(FoldSummary.from_dict(f) for f in sequence(data.get("fold_details"))),
            models={str(k): MemberScore.from_dict(v) for k, v in mapping(data.get("models")).items()},
            weights=numbers(data.get("weights")),
            oos=EvaluationSummary.from_dict(mapping(data.get("oos"))),
            holdout=EvaluationSummary.from_dict(mapping(data.get("holdout"))),
            backtest=BacktestSummary.from_dict(backtest) if backtest else None,
            n_trials=int(number(data.get("n_trials")) or 1),
            tuning=json_object(tuning) if isinstance(tuning, Mapping) else None,
            feature_importance=tuple(ImportanceRow.from_dict(r) for r in sequence(data.get("feature_importance"))),
            calibration=tuple(CalibrationBin.from_dict(b) for b in sequence(data.get("calibration"))),
            data_fingerprint=text(data.get("data_fingerprint")), config_hash=text(data.get("config_hash")),
            timings=numbers(data.get("timings")),
            derived=tuple(json_object(d) for d in sequence(data.get("derived")) if isinstance(d, Mapping)),
        )


def _plain(value: object) -> object:
    """Records inside maps and tuples as dicts (``dataclasses.asdict`` only walks dataclasses)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
