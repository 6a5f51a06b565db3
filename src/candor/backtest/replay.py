"""Replay a saved model on bars it has not seen: features → probabilities → backtest.

Why this refuses overlap by default: a model's scores on the rows it was trained on (or validated
and promoted on) are in-sample, and a backtest of them flatters it. The *training span* is every
bar the training read: from the first bar whose price entered a feature or label to the last bar
a holdout label looked at. The holdout counts, because its score decided the gates and the
promotion.

The manifest records that span (:class:`~candor.records.report.DataSpan`, manifest format 2), so
it is read, not reconstructed. A model saved before the span was recorded cannot say which bars
it read; it is refused with the fix (retrain), unless the caller picks the start and accepts the
overlap risk (``start`` with ``allow_overlap``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from candor.backtest.config import BacktestConfig
from candor.backtest.engine import BacktestResult, run_backtest
from candor.errors import ConfigError, DataError
from candor.records.manifest import Manifest

CLASS_COLUMNS = (-1, 0, 1)


class TrainingOverlapError(DataError):
    """The replay span reaches into bars the model was trained or validated on (exit code 1)."""


@dataclass(frozen=True)
class TrainingSpan:
    """First and last bar the model's training read (UTC)."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def source(self) -> str:
        return "recorded in the manifest"


def training_span(manifest: Manifest) -> TrainingSpan:
    """The bars the model's training read, from the manifest's data span (see the module docstring)."""
    span = manifest.data_span
    if span is None:
        raise DataError(
            f"the {manifest.symbol}/{manifest.timeframe} model (trained {manifest.created_at:%Y-%m-%d}) was saved "
            "by an older candor that did not record which bars it was trained on, so a replay cannot refuse "
            "them; retrain it with this candor version (or replay from a chosen start with allow_overlap)."
        )
    return TrainingSpan(span.first_bar, span.last_bar)


def replay(
    model: Any,
    bars: pd.DataFrame,
    config: BacktestConfig | None = None,
    *,
    start: pd.Timestamp | str | None = None,
    allow_overlap: bool = False,
    n_trials: int | None = None,
    span: TrainingSpan | None = None,
    abstain: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> BacktestResult:
    """Backtest ``model`` (a :class:`~candor.registry.artifact.CandorModel`) on ``bars`` it has not seen.

    Signals are the model's class probabilities for every bar from ``start`` (default: the bar
    after its training span) with complete features. ``n_trials`` defaults to the count the
    model's manifest records (:func:`recorded_trials`): the model was picked among that many
    configurations and tuning trials (reused studies included), and its Deflated Sharpe here
    deflates for them as the training's did — raise it if you replay many variants.
    ``abstain`` (the served forecasts' rule, e.g. :func:`candor.ops.sets.abstaining_rows` bound by
    the caller) maps the probability frame to a boolean array of the rows that abstain; those rows
    become NEUTRAL, i.e. flat, as a served abstention is on paper.
    Raises :class:`TrainingOverlapError` when the span reaches into the training bars, unless
    ``allow_overlap``.
    """
    _check_series(model, bars)
    if start is not None and allow_overlap:
        first = _utc(start)  # the caller's own start, overlap accepted: no span needed
    else:
        first = _first_bar(bars, span if span is not None else training_span(model.manifest), start, allow_overlap)
    proba = probabilities(model, bars, first)
    if abstain is not None:
        proba = flat_where(proba, abstain(proba))
    return run_backtest(proba, bars, config, n_trials=recorded_trials(model.manifest) if n_trials is None else n_trials)


def flat_where(proba: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``proba`` with the ``rows`` (a boolean mask) set to NEUTRAL with certainty: no position."""
    out = proba.copy()
    out.loc[np.asarray(rows, dtype=bool)] = [1.0 if c == 0 else 0.0 for c in out.columns]
    return out


def recorded_trials(manifest: Manifest) -> int:
    """Every configuration and tuning trial the model was chosen among, from its report (>= 1)."""
    return max(1, int(manifest.report.n_trials or 1))


def _check_series(model: Any, bars: pd.DataFrame) -> None:
    """Same timeframe, else the signals would not line up with the bars the model was built for."""
    if not isinstance(bars, pd.DataFrame) or len(bars) == 0:
        raise DataError("`bars` must be a non-empty bar frame; load them with candor.data.open_bars().")
    got = bars.attrs.get("timeframe")
    if got != model.timeframe:
        raise DataError(
            f"model {model.symbol}/{model.timeframe} cannot be replayed on {got} bars: its signals would "
            f"be misaligned with the prices; pass {model.timeframe} bars (e.g. --timeframe {model.timeframe})."
        )


def _first_bar(bars: pd.DataFrame, span: TrainingSpan, start: pd.Timestamp | str | None,
               allow_overlap: bool) -> pd.Timestamp:
    """The first signal bar: ``start`` (checked against the training span) or the bar after it."""
    index = bars.index
    if start is None:
        after = int(index.searchsorted(span.end, side="right"))
        if after >= len(index):
            raise DataError(
                f"the bars end at {index[-1]}, inside the model's training span (to {span.end}, "
                f"{span.source}); pass newer bars, or --start with --allow-overlap to score training rows."
            )
        return index[after]
    first = _utc(start)
    if not allow_overlap and first <= span.end and index[-1] >= span.start:
        raise TrainingOverlapError(
            f"--start {first} overlaps the model's training span {span.start} .. {span.end} "
            f"({span.source}): scores on training rows are not out of sample; start after {span.end} "
            "or pass --allow-overlap."
        )
    return first


def _utc(value: pd.Timestamp | str) -> pd.Timestamp:
    """A start date as a UTC timestamp; naive dates are read as UTC (bars are UTC)."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ConfigError(f"`start` must be a date such as 2019-01-31. Got {value!r}.") from None
    if stamp is pd.NaT:
        raise ConfigError(f"`start` must be a date such as 2019-01-31. Got {value!r}.")
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


def probabilities(model: Any, bars: pd.DataFrame, first: pd.Timestamp) -> pd.DataFrame:
    """Class probabilities (columns -1, 0, 1) for every bar from ``first`` with complete features.

    A model trained on two classes (binary labels) gets a zero NEUTRAL column.
    """
    X = model.features(bars)
    X = X.loc[X.index >= first]
    X = X.loc[X.notna().all(axis=1)]
    if X.empty:
        raise DataError(
            f"no bar from {first} on has complete features (the model needs {model.manifest.warmup} "
            "bars of history before the first signal); pass more bars or an earlier --start."
        )
    raw = np.asarray(model.estimator.predict_proba(X), dtype=np.float64)
    out = np.zeros((len(X), len(CLASS_COLUMNS)))
    for j, label in enumerate(model.estimator.classes_):
        out[:, CLASS_COLUMNS.index(int(label))] = raw[:, j]
    return pd.DataFrame(out, index=X.index, columns=list(CLASS_COLUMNS))
