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
    warmup_by_group,
)

_TRANSFORMS = ("SCALERS", "CorrelationPruner", "make_scaler")


def __getattr__(name: str) -> object:
    # The transforms are scikit-learn estimators (~1.5 s of imports); computing features needs
    # none of it, so they load on first use: the registry and API processes never pay for them.
    if name in _TRANSFORMS:
        from candor.features import transforms

        return getattr(transforms, name)
    raise AttributeError(f"module 'candor.features' has no attribute {name!r}")

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
    "warmup_by_group",
]
