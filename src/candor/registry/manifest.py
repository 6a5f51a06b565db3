"""The artifact manifest as one typed record: what a model is, what it was trained on, how it scored.

Built once per training by :func:`build_manifest` and written as ``manifest.json`` by
:func:`candor.registry.artifact.save_model`; every reader (the loader, the registry, the gates, the
drift monitor, the replay) gets a :class:`Manifest` back from
:func:`candor.registry.artifact.verify_artifact` and reads attributes, not string keys.

Format versions (``format_version`` in the JSON):

* 1 — the shape before this module (a manifest without ``format_version`` is read as 1);
* 2 — adds ``data_span``, the bars the training read (:class:`~candor.training.report.DataSpan`).

A newer version than :data:`FORMAT_VERSION` is refused: its fields may mean something this
candor does not know, and guessing would put a model into production on a misread report.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING

import orjson

from candor import __version__
from candor.errors import RegistryError
from candor.features import FeatureSet
from candor.labels import LabelSpec
from candor.training.report import DataSpan, TrainingReport
from candor.training.summaries import JsonObject, json_object, mapping, sequence

if TYPE_CHECKING:
    from candor.training.run import TrainResult

FORMAT_VERSION = 2
_PACKAGES = ("candor", "numpy", "pandas", "scikit-learn", "xgboost-cpu", "xgboost", "lightgbm", "TA-Lib")
#: Config fields never written into a manifest: machine paths and URLs that may carry passwords.
def package_versions() -> dict[str, str]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


class _ParsedOnRead:
    """A dataclass field holding the report: a stored manifest's report is parsed on first read.

    Why: the forecast job loads 500 champions and reads their features, label and warm-up, never
    their reports; parsing each report (its 500-point equity curve above all) was a quarter of
    loading an artifact. A field typed by a descriptor is a documented dataclass pattern: the
    generated ``__init__`` and ``dataclasses.replace`` go through ``__set__``, equality and
    ``repr`` through ``__get__``, so a lazily parsed report is indistinguishable from an eager one.
    A malformed report raises the same :class:`RegistryError` it did, on first read.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}_value"

    def __get__(self, obj: object, owner: type | None = None) -> TrainingReport:
        if obj is None:
            return _EMPTY_REPORT  # the field's default
        value = obj.__dict__[self._slot]
        if not isinstance(value, TrainingReport):
            try:
                value = TrainingReport.from_dict(mapping(value))
            except (KeyError, TypeError, ValueError) as exc:
                raise RegistryError(f"the manifest's report is malformed ({type(exc).__name__}: {exc}); it was not "
                                    "written by candor — retrain the model to replace the artifact.") from None
            obj.__dict__[self._slot] = value
        return value

    def __set__(self, obj: object, value: TrainingReport | Mapping[str, object]) -> None:
        obj.__dict__[self._slot] = value


_EMPTY_REPORT = TrainingReport()


@dataclass(frozen=True)
class Manifest:
    """Everything ``manifest.json`` records about one model artifact.

    ``files`` (name → SHA-256) is filled in by ``save_model``; ``weights_update`` is set on a
    champion copy whose ensemble weights the weekly job refit (:mod:`candor.ops.weights`).
    """

    symbol: str
    timeframe: str
    created_at: datetime
    feature_names: tuple[str, ...]
    feature_set: FeatureSet
    label_spec: LabelSpec
    warmup: int = 0
    candor_version: str = ""
    config: JsonObject = field(default_factory=dict)
    config_hash: str = ""
    data_fingerprint: str = ""
    data_span: DataSpan | None = None
    #: A :class:`TrainingReport`; a stored manifest passes the report's JSON, parsed on first read.
    report: TrainingReport = _ParsedOnRead()  # type: ignore[assignment]
    packages: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    weights_update: JsonObject | None = None

    def to_dict(self) -> JsonObject:
        out: JsonObject = {
            "format_version": FORMAT_VERSION, "symbol": self.symbol, "timeframe": self.timeframe,
            "created_at": self.created_at.isoformat(), "candor_version": self.candor_version,
            "feature_names": list(self.feature_names), "feature_set": json_object(dataclasses.asdict(self.feature_set)),
            "label_spec": dataclasses.asdict(self.label_spec), "warmup": self.warmup,
            "config": json_object(self.config),
            "config_hash": self.config_hash, "data_fingerprint": self.data_fingerprint,
            "data_span": None if self.data_span is None else self.data_span.to_dict(),
            "report": self.report.to_dict(), "packages": dict(self.packages), "files": dict(self.files),
        }
        if self.weights_update is not None:
            out["weights_update"] = self.weights_update
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            # NaN literals or huge integers, which orjson refuses: the standard parser decides.
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise RegistryError(f"the manifest is not valid JSON ({exc}); the artifact is damaged — "
                                    "retrain the model or restore the artifact.") from None
        if not isinstance(data, Mapping):
            raise RegistryError("the manifest is not a JSON object; it was not written by candor.")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Manifest:
        """Parse a manifest of format 1 or 2; a newer or malformed one raises :class:`RegistryError`."""
        version = check_format_version(data.get("format_version", 1))
        try:
            span = data.get("data_span") if version >= 2 else None
            update = data.get("weights_update")
            return cls(
                symbol=str(data["symbol"]), timeframe=str(data["timeframe"]),
                created_at=_aware(datetime.fromisoformat(str(data["created_at"]))),
                feature_names=tuple(str(n) for n in sequence(data["feature_names"])),
                feature_set=FeatureSet(**mapping(data["feature_set"])),
                label_spec=LabelSpec(**mapping(data["label_spec"])),
                warmup=int(data.get("warmup") or 0),
                candor_version=str(data.get("candor_version") or ""),
                config=dict(mapping(data.get("config"))),  # parsed JSON already; made JSON-safe on write
                config_hash=str(data.get("config_hash") or ""),
                data_fingerprint=str(data.get("data_fingerprint") or ""),
                data_span=DataSpan.from_dict(span) if isinstance(span, Mapping) else None,
                report=mapping(data.get("report")),  # type: ignore[arg-type]  # parsed on first read
                packages={str(k): str(v) for k, v in mapping(data.get("packages")).items()},
                files={str(k): str(v) for k, v in mapping(data.get("files")).items()},
                weights_update=json_object(update) if isinstance(update, Mapping) else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"the manifest is malformed ({type(exc).__name__}: {exc}); it was not written by "
                                "candor — retrain the model to replace the artifact.") from None


def check_format_version(version: object) -> int:
    """The manifest's format version if this candor reads it, else a :class:`RegistryError`."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RegistryError(f"the manifest's `format_version` must be a whole number >= 1. Got {version!r}; "
                            "the artifact was not written by candor.")
    if version > FORMAT_VERSION:
        raise RegistryError(
            f"the manifest has format_version {version}, newer than this candor {__version__} reads "
            f"(1 to {FORMAT_VERSION}); upgrade candor (pip install --upgrade candor) to load this model, "
            "or retrain it with this version."
        )
    return version


def _aware(stamp: datetime) -> datetime:
    """``created_at`` in UTC; a naive time (hand-written manifests) is read as UTC."""
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


def build_manifest(result: TrainResult) -> Manifest:
    """The manifest of a finished training (without file hashes: ``save_model`` adds them)."""
    return Manifest(
        symbol=result.symbol, timeframe=result.timeframe, created_at=datetime.now(UTC),
        feature_names=tuple(result.feature_names), feature_set=result.feature_set, label_spec=result.label_spec,
        warmup=int(result.warmup), candor_version=__version__,
        config=json_object(result.config.recorded()),
        config_hash=result.config.config_hash(), data_fingerprint=result.fingerprint, data_span=result.data_span,
        report=result.report, packages=package_versions(),
    )
