"""The manifest of a finished training: the record ``save_model`` writes beside the model."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import metadata

from candor import __version__
from candor.records.manifest import Manifest
from candor.records.values import plain
from candor.training.run import TrainResult

_PACKAGES = ("candor", "numpy", "pandas", "scikit-learn", "xgboost-cpu", "xgboost", "lightgbm", "TA-Lib")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def build_manifest(result: TrainResult) -> Manifest:
    """The manifest of a finished training (without file hashes: ``save_model`` adds them)."""
    return Manifest(
        symbol=result.symbol, timeframe=result.timeframe, created_at=datetime.now(UTC),
        feature_names=tuple(result.feature_names), feature_set=result.feature_set, label_spec=result.label_spec,
        warmup=int(result.warmup), candor_version=__version__, config=plain(result.config.recorded()),
        config_hash=result.config.config_hash(), data_fingerprint=result.fingerprint, data_span=result.data_span,
        report=result.report, packages=package_versions(),
    )
