"""Bars → the aligned (features, label, label end time) matrix every model sees.

Kept apart from the training loop so the forecast job builds features exactly the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from candor.data.bars import timeframe_of
from candor.data.validate import validate_bars
from candor.errors import BarValidationError, DataError
from candor.features import FeatureSet, compute_features, warmup_bars, warmup_by_group
from candor.labels import LabelSpec, Labels, make_labels

#: Rows a model needs beyond the warm-up to be worth training at all.
MIN_TRAINING_ROWS = 200


@dataclass(frozen=True)
class LabelledData:
    """Feature rows aligned with their labels; ``t1`` is when each label resolves."""

    X: pd.DataFrame
    y: pd.Series
    t1: pd.Series
    labels: Labels
    feature_set: FeatureSet

    @property
    def n_samples(self) -> int:
        return len(self.y)


def data_fingerprint(bars: pd.DataFrame) -> str:
    """SHA-256 of the bar timestamps and values: the same bars always give the same print."""
    digest = hashlib.sha256()
    digest.update(bars.index.asi8.tobytes())
    digest.update(np.ascontiguousarray(bars[["open", "high", "low", "close", "volume"]].to_numpy()).tobytes())
    return digest.hexdigest()


def build_labelled_data(bars: pd.DataFrame, feature_set: FeatureSet, label_spec: LabelSpec) -> LabelledData:
    """Validate bars, compute causal features and labels, keep rows where both are complete.

    ``feature_set`` and ``label_spec`` are the config's ``features`` and ``labels`` sections.
    """
    warmup = warmup_bars(feature_set, timeframe_of(bars), bars.attrs.get("calendar"))
    needed = warmup + label_spec.horizon + MIN_TRAINING_ROWS
    validate_bars(bars)
    if len(bars) < needed:
        raise _too_short(bars, feature_set, needed - warmup)
    return align_labelled(compute_features(bars, feature_set), make_labels(bars, label_spec), feature_set)


def _too_short(bars: pd.DataFrame, feature_set: FeatureSet, beyond_warmup: int) -> BarValidationError:
    """``min_rows``, naming the feature group that needs the history and what the others need."""
    by_group = warmup_by_group(feature_set, timeframe_of(bars), bars.attrs.get("calendar"))
    needed = max(by_group.values(), default=0) + beyond_warmup
    detail = f"need at least {needed} rows (longest lookback + horizon), got {len(bars)}"
    if len(by_group) > 1:
        (worst, longest), rest = next(iter(by_group.items())), dict(list(by_group.items())[1:])
        others = max(rest.values()) + beyond_warmup
        detail += (f"; the '{worst}' group's warm-up is {longest} bars, the other groups need {others} rows: "
                   f"supply a longer history, or set [features] groups = {list(rest)} (without '{worst}')")
    return BarValidationError("min_rows", bars.index[0] if len(bars) else None, len(bars), detail)


def align_labelled(features: pd.DataFrame, labels: Labels, feature_set: FeatureSet) -> LabelledData:
    """Computed ``features`` and ``labels`` of the same bars, kept where both are complete (how
    :func:`build_labelled_data` ends; ``candor research`` computes each once and aligns them here)."""
    X = features.reindex(labels.y.index)
    complete = X.notna().all(axis=1).to_numpy()
    if complete.sum() < MIN_TRAINING_ROWS:
        raise DataError(
            f"only {int(complete.sum())} bars have complete features and labels; "
            f"need at least {MIN_TRAINING_ROWS} — supply a longer history."
        )
    return LabelledData(
        X=X.loc[complete], y=labels.y.loc[complete], t1=labels.t1.loc[complete],
        labels=labels, feature_set=feature_set,
    )
