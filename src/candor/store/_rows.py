"""Helpers shared by the small query modules: field checking and detached ORM results.

Why: each query module validates its input the same way (unknown or missing fields name the
table and the allowed names, before anything is written) and returns typed ORM objects that stay
readable after their session is closed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any, TypeVar

import pandas as pd

from sqlalchemy import Select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session

from candor.errors import DataError
from candor.store.engine import transaction

Model = TypeVar("Model", bound=DeclarativeBase)


def columns_of(model: type[DeclarativeBase]) -> tuple[str, ...]:
    return tuple(column.name for column in model.__table__.columns)  # type: ignore[attr-defined]


def as_mapping(row: object) -> dict[str, Any]:
    """Accept a mapping or a dataclass instance (candor's typed results are dataclasses)."""
    if isinstance(row, Mapping):
        return dict(row)
    if is_dataclass(row) and not isinstance(row, type):
        return asdict(row)
    raise DataError(f"expected a mapping or a dataclass row, got {type(row).__name__}")


def check_fields(
    table: str, fields: Mapping[str, Any], allowed: Iterable[str], required: Sequence[str]
) -> None:
    """Refuse unknown and missing fields, naming them and what is allowed."""
    allowed = tuple(allowed)
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise DataError(f"unknown {table} field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    missing = [name for name in required if fields.get(name) is None]
    if missing:
        raise DataError(f"{table} row is missing required field(s) {', '.join(missing)}")


def check_finite(table: str, fields: Mapping[str, Any], names: Iterable[str]) -> None:
    """Numbers stored for later comparison must be real numbers (NaN never equals anything)."""
    for name in names:
        value = fields.get(name)
        if value is not None and not (isinstance(value, int | float) and math.isfinite(float(value))):
            raise DataError(f"{table}.{name} must be a finite number. Got {value!r}.")


def to_utc(value: object) -> dt.datetime:
    """A timezone-aware UTC datetime from a Timestamp/datetime/string (naive means UTC)."""
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(f"expected a timestamp, got {value!r}") from None
    if stamp is pd.NaT:
        raise DataError("expected a timestamp, got NaT")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def fetch_all(bind: Engine | Connection, query: Select[Any]) -> list[Any]:
    """Run an ORM select and return detached objects (attributes stay loaded after the session)."""
    with transaction(bind) as connection, Session(bind=connection, expire_on_commit=False) as session:
        objects = list(session.scalars(query))
        session.expunge_all()
        return objects


def where_equal(query: Select[Any], model: type[DeclarativeBase], **values: Any) -> Select[Any]:
    """``query`` filtered on each column given a value; ``None`` means "any" (no filter)."""
    for column, value in values.items():
        if value is not None:
            query = query.where(getattr(model, column) == value)
    return query
