"""Causal, scale-free features from OHLCV bars (TA-Lib), multi-timeframe context and transforms.

``compute_features(bars, FeatureSet())`` is the entry point; ``describe_features`` and
``warmup_bars`` summarise it; ``make_scaler`` and ``CorrelationPruner`` go inside sklearn
pipelines so they are refit on each training fold.
"""

from candor.features.catalog import (
    ALL_GROUPS,
    FeatureInfo,
    FeatureSet,
    compute_features,
    describe_features,
    feature_specs,
    parse_feature_set,
    warmup_bars,
)
from candor.features.transforms import SCALERS, CorrelationPruner, make_scaler

__all__ = [
    "ALL_GROUPS",
    "SCALERS",
    "CorrelationPruner",
    "FeatureInfo",
    "FeatureSet",
    "compute_features",
    "describe_features",
    "feature_specs",
    "make_scaler",
    "parse_feature_set",
    "warmup_bars",
]
