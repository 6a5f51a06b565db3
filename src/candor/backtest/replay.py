"""Replay a saved model on bars it has not seen: features → probabilities → backtest.

Why this refuses overlap by default: a model's scores on the rows it was trained on (or validated
and promoted on) are in-sample, and a backtest of them flatters it. The *training span* is every
bar the training read: from the first bar whose price entered a feature or label to the last bar
a holdout label looked at (``holdout end + horizon``). The holdout counts, because its score
decided the gates and the promotion.

The manifest does not store that span directly, so :func:`training_span` finds it:

* **exact** — the manifest's ``data_fingerprint`` (SHA-256 of the training bars) is matched
  against prefixes of the given bars, when those bars start where the training bars started (the
  usual case: the same file, extended with newer bars);
* **estimated** — otherwise a conservative bound from the report: the last walk-forward test
  row, plus the most rows the dev/holdout purge can drop, plus the holdout rows, plus the label
  horizon. It can only overstate the span, so it can only make the replay start later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from candor.backtest.config import BacktestConfig
from candor.backtest.engine import BacktestResult, run_backtest
from candor.data.bars import TIMEFRAMES
from candor.training.matrix import data_fingerprint
from candor.errors import ConfigError, DataError

CLASS_COLUMNS = (-1, 0, 1)
EARLIEST = pd.Timestamp("1900-01-01", tz="UTC")


class TrainingOverlapError(DataError):
    """The replay span reaches into bars the model was trained or validated on (exit code 1)."""


@dataclass(frozen=True)
class TrainingSpan:
    """First and last bar the model's training read; ``exact`` when found by data fingerprint."""

    start: pd.Timestamp
    end: pd.Timestamp
    exact: bool

    @property
    def source(self) -> str:
        return "data fingerprint" if self.exact else "estimated from the report (conservative)"


def training_span(manifest: dict[str, Any], bars: pd.DataFrame) -> TrainingSpan:
    """The bars the model's training read, located on ``bars`` (see the module docstring)."""
    report = manifest.get("report") or {}
    folds = report.get("fold_details") or []
    if not folds or "holdout" not in report:
        raise DataError("the model's manifest has no walk-forward folds or holdout in its report; "
                        "cannot tell which bars it was trained on — retrain it with this candor version.")
    horizon = int(manifest["label_spec"]["horizon"])
    purge = manifest.get("config", {}).get("split", {}).get("purge")
    purge = horizon if purge is None else int(purge)
    tail = int(report["holdout"]["n"]) + horizon  # holdout rows, then the bars its labels look at
    last_test = int(bars.index.searchsorted(pd.Timestamp(folds[-1]["test_end"]), side="right")) - 1
    lo, hi = last_test + tail + 1, last_test + tail + purge + horizon + 1
    exact = _fingerprint_end(bars, str(manifest.get("data_fingerprint", "")), lo, hi)
    if exact is not None:
        return TrainingSpan(bars.index[0], bars.index[exact], True)
    before = purge + horizon + int(folds[0]["train_rows"]) + int(manifest.get("warmup", 0))
    first_test = pd.Timestamp(folds[0]["test_start"])
    grid = _grid(bars, first_test - 3 * before * TIMEFRAMES[str(manifest["timeframe"])])
    last_test = int(grid.searchsorted(pd.Timestamp(folds[-1]["test_end"]), side="right")) - 1
    first = int(grid.searchsorted(first_test)) - before
    start = grid[first] if first >= 0 else EARLIEST  # before the bars: every earlier bar counts
    return TrainingSpan(start, _timestamp_at(grid, last_test + tail + purge + horizon + 1), False)


def _grid(bars: pd.DataFrame, since: pd.Timestamp) -> pd.DatetimeIndex:
    """The bars' index, preceded by the calendar's expected bars from ``since`` when they start later.

    Why: when the replay bars begin after the training bars, counting training bars forward on
    the replay bars alone would place the training's end too late. Without a known calendar the
    bars' own index is used (conservative: the span can only come out too long).
    """
    from candor.data.gaps import expected_index

    index = bars.index
    if since >= index[0]:
        return index
    probe = pd.DataFrame(index=pd.DatetimeIndex([since, index[0]], name="ts"))
    probe.attrs = dict(bars.attrs)
    try:
        expected = expected_index(probe)
    except Exception:  # an unknown or unloadable calendar: fall back to the bars themselves
        return index
    if expected is None:
        return index
    return expected[expected < index[0]].append(index)


def _fingerprint_end(bars: pd.DataFrame, fingerprint: str, lo: int, hi: int) -> int | None:
    """Position of the training's last bar if ``bars[:k]`` hashes to the fingerprint for some k."""
    if not fingerprint:
        return None
    for last in range(max(lo, 0), min(hi, len(bars) - 1) + 1):
        if data_fingerprint(bars.iloc[: last + 1]) == fingerprint:
            return last
    return None


def _timestamp_at(index: pd.DatetimeIndex, pos: int) -> pd.Timestamp:
    """``index[pos]``, clamped to the ends: positions outside the bars have no timestamp."""
    return index[min(max(pos, 0), len(index) - 1)]


def replay(
    model: Any,
    bars: pd.DataFrame,
    config: BacktestConfig | None = None,
    *,
    start: pd.Timestamp | str | None = None,
    allow_overlap: bool = False,
    n_trials: int = 1,
    span: TrainingSpan | None = None,
) -> BacktestResult:
    """Backtest ``model`` (a :class:`~candor.registry.artifact.CandorModel`) on ``bars`` it has not seen.

    Signals are the model's class probabilities for every bar from ``start`` (default: the bar
    after its training span) with complete features. ``n_trials`` = 1 by default: the model was
    fixed before these bars existed, so this is one trial — raise it if you replay many variants.
    Raises :class:`TrainingOverlapError` when the span reaches into the training bars, unless
    ``allow_overlap``.
    """
    _check_series(model, bars)
    span = span if span is not None else training_span(model.manifest, bars)
    first = _first_bar(bars, span, start, allow_overlap)
    proba = probabilities(model, bars, first)
    return run_backtest(proba, bars, config, n_trials=n_trials)


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
            f"no bar from {first} on has complete features (the model needs {model.manifest.get('warmup')} "
            "bars of history before the first signal); pass more bars or an earlier --start."
        )
    raw = np.asarray(model.estimator.predict_proba(X), dtype=np.float64)
    out = np.zeros((len(X), len(CLASS_COLUMNS)))
    for j, label in enumerate(model.estimator.classes_):
        out[:, CLASS_COLUMNS.index(int(label))] = raw[:, j]
    return pd.DataFrame(out, index=X.index, columns=list(CLASS_COLUMNS))
