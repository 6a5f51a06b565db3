"""``ml_forecasts``: idempotent forecast writes and late-label resolution.

Why insert-or-keep by default: a forecast is a claim made *before* its outcome; re-running the
job for the same bar must neither duplicate it nor quietly rewrite it. ``replace=True`` lets a
re-run overwrite a forecast whose outcome is still unknown (e.g. after a rollback), never a
resolved one — rewriting a prediction after the fact would flatter the drift numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from candor.data.bars import check_timeframe
from candor.errors import DataError
from candor.store._rows import as_mapping, check_fields, check_finite, columns_of, fetch_all, to_utc, where_equal
from candor.store.engine import dialect_insert, transaction
from candor.store.schema import MlForecast, utc_now

KEY = ("symbol", "timeframe", "horizon", "bar_ts", "shadow")
#: Column suffixes of the class probabilities (prob_bearish, ...).
CLASSES = ("bearish", "neutral", "bullish")
#: Directions are stored as candor.labels.CLASS_NAMES spells them; input of any case is accepted.
DIRECTIONS = ("BEARISH", "NEUTRAL", "BULLISH")
#: The direction of a forecast that abstained (its ``abstain_reason`` says why); never a realised outcome.
ABSTAIN = "NONE"
_OUTCOME = ("realized_direction", "realized_return", "resolved_at")
_FIELDS = tuple(c for c in columns_of(MlForecast) if c not in ("id", *_OUTCOME))
_REQUIRED = ("symbol", "timeframe", "horizon", "bar_ts", "direction", "confidence", "model_name", "model_version")
_NUMBERS = ("confidence", "consensus_agreement", "set_alpha", *(f"prob_{c}" for c in CLASSES))
_TABLE = MlForecast.__table__


@dataclass(frozen=True)
class Resolution:
    """The realised outcome of one forecast, known once bars past its horizon arrived."""

    forecast_id: int
    realized_direction: str
    realized_return: float | None = None
    resolved_at: dt.datetime | None = None


def _expand_probabilities(fields: dict[str, Any]) -> dict[str, Any]:
    """Accept ``probabilities={"bullish": .6, ...}`` (candor.registry.artifact.Forecast) as prob_* columns."""
    probabilities = {str(k).lower(): p for k, p in (fields.pop("probabilities", None) or {}).items()}
    unknown = sorted(set(probabilities) - set(CLASSES))
    if unknown:
        raise DataError(f"unknown forecast class(es) {', '.join(unknown)}; expected {', '.join(CLASSES)}")
    return {**{f"prob_{name}": float(p) for name, p in probabilities.items()}, **fields}


def _direction(name: str, value: object, allowed: tuple[str, ...] = DIRECTIONS) -> str:
    """The canonical (upper-case) direction, or DataError naming the field and the choices."""
    canonical = str(value).upper()
    if canonical not in allowed:
        raise DataError(f"`{name}` must be one of {', '.join(allowed)}. Got {value!r}.")
    return canonical


def _prediction_set(value: object) -> list[str] | None:
    """A conformal set as canonical directions in class order (None: no calibration data)."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise DataError(f"`prediction_set` must be a list of directions. Got {value!r}.")
    members = {_direction("prediction_set", v) for v in value}
    return [d for d in DIRECTIONS if d in members]


def _prepared(row: object, defaults: Mapping[str, Any]) -> dict[str, Any]:
    fields = _expand_probabilities({**defaults, **as_mapping(row)})
    check_fields("ml_forecasts", fields, _FIELDS, _REQUIRED)
    check_timeframe(str(fields["timeframe"]))
    fields["direction"] = _direction("direction", fields["direction"], (*DIRECTIONS, ABSTAIN))
    fields["prediction_set"] = _prediction_set(fields.get("prediction_set"))
    if (fields["direction"] == ABSTAIN) != bool(fields.get("abstain_reason")):
        raise DataError("a forecast abstains (direction NONE) exactly when it has an `abstain_reason`; "
                        f"got direction {fields['direction']} with reason {fields.get('abstain_reason')!r}")
    if fields.get("consensus_direction") is not None:
        fields["consensus_direction"] = _direction("consensus_direction", fields["consensus_direction"])
    fields = {**fields, **{n: float(fields[n]) for n in _NUMBERS if fields.get(n) is not None}}
    check_finite("ml_forecasts", fields, _NUMBERS)
    fields["horizon"] = int(fields["horizon"])
    fields["model_version"] = str(fields["model_version"])
    fields["bar_ts"] = to_utc(fields["bar_ts"])
    fields["shadow"] = bool(fields.get("shadow") or False)  # a shadow version's forecast: stored, never served
    fields["generated_at"] = to_utc(fields.get("generated_at") or utc_now())
    return {name: fields.get(name) for name in _FIELDS}


def _refuse_duplicate_keys(rows: list[dict[str, Any]]) -> None:
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        key = tuple(row[k] for k in KEY)
        if key in seen:
            raise DataError(f"two forecasts in one batch for the same symbol/timeframe/horizon/bar/shadow {key}")
        seen.add(key)


def _upsert_statement(connection: Connection, replace: bool) -> Any:
    insert = dialect_insert(connection, _TABLE)
    if not replace:
        return insert.on_conflict_do_nothing(index_elements=list(KEY)).returning(_TABLE.c.id)
    updates = {name: insert.excluded[name] for name in _FIELDS if name not in KEY}
    return insert.on_conflict_do_update(
        index_elements=list(KEY), set_=updates, where=_TABLE.c.resolved_at.is_(None)
    ).returning(_TABLE.c.id)


def upsert_forecasts(
    bind: Engine | Connection,
    rows: Iterable[object],
    *,
    replace: bool = False,
    **defaults: Any,
) -> int:
    """Write forecasts (mappings or dataclasses); return how many rows were inserted (or replaced).

    ``defaults`` fill fields the rows lack, e.g. ``model_name=…, model_version=…`` for
    :class:`candor.registry.artifact.Forecast` objects. A forecast already stored for the same
    (symbol, timeframe, horizon, bar_ts) is kept unless ``replace`` and still unresolved.
    """
    prepared = [_prepared(row, defaults) for row in rows]
    _refuse_duplicate_keys(prepared)
    if not prepared:
        return 0
    with transaction(bind) as connection:
        result = connection.execute(_upsert_statement(connection, replace), prepared)
        return len(result.all())


def _filtered(query: Any, symbol: str | None, timeframe: str | None, horizon: int | None) -> Any:
    return where_equal(query, MlForecast, symbol=symbol, timeframe=timeframe, horizon=horizon)


def unresolved_forecasts(
    bind: Engine | Connection,
    symbol: str | None = None,
    timeframe: str | None = None,
    horizon: int | None = None,
    *,
    bar_ts_before: object | None = None,
) -> list[MlForecast]:
    """Forecasts whose outcome is not yet filled in, oldest bar first."""
    query = _filtered(sa.select(MlForecast), symbol, timeframe, horizon).where(MlForecast.resolved_at.is_(None))
    if bar_ts_before is not None:
        query = query.where(MlForecast.bar_ts < to_utc(bar_ts_before))
    order = (MlForecast.symbol, MlForecast.timeframe, MlForecast.horizon, MlForecast.bar_ts)
    return fetch_all(bind, query.order_by(*order))


def forecasts(
    bind: Engine | Connection,
    symbol: str,
    timeframe: str,
    *,
    horizon: int | None = None,
    resolved: bool | None = None,
    resolved_since: object | None = None,
    shadow: bool | None = False,
) -> list[MlForecast]:
    """One series' forecasts, oldest bar first; ``resolved=True`` for the drift monitor's sample.

    ``shadow``: False (default) the served forecasts only, True the shadow version's, None both."""
    query = _filtered(sa.select(MlForecast), symbol, timeframe, horizon)
    if shadow is not None:
        query = query.where(MlForecast.shadow.is_(bool(shadow)))
    if resolved is not None:
        column = MlForecast.resolved_at
        query = query.where(column.is_not(None) if resolved else column.is_(None))
    if resolved_since is not None:
        query = query.where(MlForecast.resolved_at >= to_utc(resolved_since))
    return fetch_all(bind, query.order_by(MlForecast.horizon, MlForecast.bar_ts))


def _resolution_row(resolution: Resolution) -> dict[str, Any]:
    check_finite("ml_forecasts", {"realized_return": resolution.realized_return}, ("realized_return",))
    return {
        "b_id": int(resolution.forecast_id),
        "b_direction": _direction("realized_direction", resolution.realized_direction),
        "b_return": None if resolution.realized_return is None else float(resolution.realized_return),
        "b_at": to_utc(resolution.resolved_at or utc_now()),
    }


def resolve_forecasts(bind: Engine | Connection, resolutions: Iterable[Resolution]) -> int:
    """Fill in realised outcomes; return how many forecasts were newly resolved.

    Already-resolved forecasts are left as they are (re-running the resolver is harmless); an
    unknown forecast id is refused before anything is written.
    """
    rows = [_resolution_row(r) for r in resolutions]
    if not rows:
        return 0
    ids = {row["b_id"] for row in rows}
    with transaction(bind) as connection:
        found = dict(connection.execute(sa.select(_TABLE.c.id, _TABLE.c.resolved_at).where(_TABLE.c.id.in_(ids))).all())
        missing = sorted(ids - set(found))
        if missing:
            raise DataError(f"no forecast with id(s) {', '.join(map(str, missing[:5]))} to resolve")
        update = (
            sa.update(_TABLE)
            .where(_TABLE.c.id == sa.bindparam("b_id"), _TABLE.c.resolved_at.is_(None))
            .values(realized_direction=sa.bindparam("b_direction"), realized_return=sa.bindparam("b_return"),
                    resolved_at=sa.bindparam("b_at"))
        )
        connection.execute(update, rows)
        return sum(1 for forecast_id in ids if found[forecast_id] is None)


def resolve_forecast(
    bind: Engine | Connection,
    forecast_id: int,
    realized_direction: str,
    realized_return: float | None = None,
    resolved_at: dt.datetime | None = None,
) -> bool:
    """Resolve one forecast; True if it was unresolved until now."""
    resolution = Resolution(forecast_id, realized_direction, realized_return, resolved_at)
    return resolve_forecasts(bind, [resolution]) == 1
