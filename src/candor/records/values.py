"""The value rules every stored record shares: lenient numbers and the record base class.

Why lenient numbers: the registry's gates fail closed — a metric that is missing, non-finite or
not a number must read as ``None`` (the gate then names it missing), never as 0 and never as a
crash. JSON has no NaN: non-finite values are written as ``null`` and read back as ``None``, which
also keeps ``model_validate_json(r.model_dump_json()) == r`` (NaN is not equal to itself).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict


class Record(BaseModel):
    """A frozen record whose stored form is its live form (``model_dump_json`` / ``model_validate_json``).

    Unknown keys are ignored: a report written by a newer minor version, or with a derived key such
    as ``folds``, still reads. Non-finite floats are written as ``null``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", ser_json_inf_nan="null")


def number(value: object) -> float | None:
    """A finite number as float; anything else (missing, NaN, a string, a bool) → None."""
    if type(value) is float:  # the JSON case first: a stored report holds ~800 of them
        return value if math.isfinite(value) else None
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    return float(value) if math.isfinite(float(value)) else None


def count(value: object) -> int | None:
    """A finite number as int (a row or trade count); anything else → None."""
    parsed = number(value)
    return None if parsed is None else int(parsed)


def scalar(value: object) -> float | int | None:
    """Like :func:`number` but an integer stays an integer (trade counts in metric tables)."""
    parsed = number(value)
    if parsed is not None and isinstance(value, int | np.integer):
        return int(value)
    return parsed


def numbers(values: object) -> dict[str, float]:
    """A name → finite number map (entries that are not finite numbers are left out)."""
    if not isinstance(values, Mapping):
        return {}
    return {str(k): parsed for k, v in values.items() if (parsed := number(v)) is not None}


def scalars(values: object) -> dict[str, float | int | None]:
    """A name → number map that keeps every name (a non-number reads as None)."""
    return {str(k): scalar(v) for k, v in values.items()} if isinstance(values, Mapping) else {}


def plain(value: object) -> Any:
    """A JSON-ready copy of a free-form value: numpy scalars → Python, tuples → lists, NaN → None.

    Only for the free-form sections (tuning summaries, derived settings, the recorded config); every
    typed field is converted by its record.
    """
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # an enum, a timestamp or a path inside a free-form section: its text


def _ints(values: object) -> object:
    return tuple(int(v) for v in values) if isinstance(values, list | tuple | np.ndarray) else values


def _int_rows(rows: object) -> object:
    return tuple(_ints(row) for row in rows) if isinstance(rows, list | tuple | np.ndarray) else rows


def _text(value: object) -> object:
    return None if value is None else str(value)


def _json_object(value: object) -> object:
    return plain(value) if isinstance(value, Mapping) else None


Num = Annotated[float | None, BeforeValidator(number)]
Count = Annotated[int | None, BeforeValidator(count)]
NumberMap = Annotated[dict[str, float], BeforeValidator(numbers)]
ScalarMap = Annotated[dict[str, float | int | None], BeforeValidator(scalars)]
Text = Annotated[str | None, BeforeValidator(_text)]
Ints = Annotated[tuple[int, ...], BeforeValidator(_ints)]
IntRows = Annotated[tuple[tuple[int, ...], ...], BeforeValidator(_int_rows)]
#: A free-form JSON object (tuning summary, recorded config); anything not a mapping reads as None.
JsonObject = Annotated[dict[str, Any] | None, BeforeValidator(_json_object)]
