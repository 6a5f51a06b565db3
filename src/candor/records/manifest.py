"""The artifact manifest: what a model is, what it was trained on, how it scored.

Built once per training and written as ``manifest.json`` by
:func:`candor.registry.artifact.save_model` (``manifest.model_dump_json(indent=2)``); every reader
(the loader, the registry, the gates, the drift monitor, the replay) gets a :class:`Manifest` back
from :func:`candor.registry.artifact.verify_artifact` and reads attributes, not string keys.

Format versions (``format_version`` in the JSON), upgraded on read by one validator:

* 1 — the shape before versions (a manifest without ``format_version`` is read as 1); it has no
  span, so a ``data_span`` key there is ignored;
* 2 — adds ``data_span``, the bars the training read (:class:`~candor.records.report.DataSpan`).

A newer version than :data:`FORMAT_VERSION` is refused: its fields may mean something this
candor does not know, and guessing would put a model into production on a misread report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ValidationError, ValidationInfo, model_validator

from candor import __version__
from candor.errors import RegistryError
from candor.records.report import DataSpan, TrainingReport
from candor.records.specs import FeatureSet, LabelSpec
from candor.records.values import JsonObject, Record

FORMAT_VERSION = 2


def _aware(stamp: datetime) -> datetime:
    """``created_at`` in UTC; a naive time (hand-written manifests) is read as UTC."""
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


def _or_empty(value: object) -> object:
    return "" if value is None else value


def _or_zero(value: object) -> object:
    return 0 if value is None else value


class FormatVersionError(RegistryError):
    """A manifest written by a newer candor, or with a version that is not a version."""


def check_format_version(version: object) -> int:
    """The manifest's format version if this candor reads it, else a :class:`RegistryError`."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FormatVersionError(f"the manifest's `format_version` must be a whole number >= 1. Got {version!r}; "
                                 "the artifact was not written by candor.")
    if version > FORMAT_VERSION:
        raise FormatVersionError(
            f"the manifest has format_version {version}, newer than this candor {__version__} reads "
            f"(1 to {FORMAT_VERSION}); upgrade candor (pip install --upgrade candor) to load this model, "
            "or retrain it with this version."
        )
    return version


class Manifest(Record):
    """Everything ``manifest.json`` records about one model artifact.

    ``files`` (name → SHA-256) is filled in by ``save_model``; ``weights_update`` is set on a
    champion copy whose ensemble weights the weekly job refit (:mod:`candor.ops.weights`).
    """

    format_version: int = FORMAT_VERSION
    symbol: str
    timeframe: str
    created_at: Annotated[datetime, AfterValidator(_aware)]
    candor_version: Annotated[str, BeforeValidator(_or_empty)] = ""
    feature_names: tuple[str, ...]
    feature_set: FeatureSet
    label_spec: LabelSpec
    warmup: Annotated[int, BeforeValidator(_or_zero)] = 0
    config: Annotated[dict[str, Any], BeforeValidator(lambda v: v if isinstance(v, Mapping) else {})] = {}
    config_hash: Annotated[str, BeforeValidator(_or_empty)] = ""
    data_fingerprint: Annotated[str, BeforeValidator(_or_empty)] = ""
    data_span: DataSpan | None = None
    report: Annotated[TrainingReport, BeforeValidator(lambda v: v if v is not None else {})] = TrainingReport()
    packages: dict[str, str] = {}
    files: dict[str, str] = {}
    weights_update: JsonObject = None

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any, info: ValidationInfo) -> Any:
        """Read an older format as the current one (raises for a newer or invalid version). A stored
        document without a version is format 1; a manifest built in code is the current format."""
        if not isinstance(data, Mapping):
            return data
        stored = bool(info.context and info.context.get("stored"))
        version = check_format_version(data.get("format_version", 1 if stored else FORMAT_VERSION))
        if version == FORMAT_VERSION:
            return data
        upgraded = {k: v for k, v in data.items() if k != "data_span"}  # format 1 had no span
        upgraded["format_version"] = FORMAT_VERSION
        return upgraded


def parse_manifest(text: str | bytes) -> Manifest:
    """A stored ``manifest.json``; a damaged, malformed or too-new one raises :class:`RegistryError`."""
    try:
        return Manifest.model_validate_json(text, context={"stored": True})
    except FormatVersionError:
        raise
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise RegistryError(f"the manifest is not valid JSON ({first['msg']}); the artifact is damaged — "
                                "retrain the model or restore the artifact.") from None
        if first["type"] == "model_type" and not first["loc"]:  # the whole document; `label_spec: null` is malformed
            raise RegistryError("the manifest is not a JSON object; it was not written by candor.") from None
        where = ".".join(str(p) for p in first["loc"]) or "manifest"
        raise RegistryError(f"the manifest is malformed ({where}: {first['msg']}); it was not written by "
                            "candor — retrain the model to replace the artifact.") from None
