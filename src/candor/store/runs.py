"""``training_runs``: one row per training, the headline numbers beside their baseline.

Why a row as well as the MLflow run: the forecast job, drift monitor and dashboard query recent
trainings by symbol/timeframe in SQL without talking to the tracking server.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from candor.data.bars import check_timeframe
from candor.store._rows import check_fields, check_finite, columns_of, fetch_all, to_utc, where_equal
from candor.store.engine import transaction
from candor.store.schema import TrainingRun, utc_now

_FIELDS = tuple(c for c in columns_of(TrainingRun) if c != "id")
_NUMBERS = ("oos_accuracy", "oos_f1", "baseline_accuracy", "lift", "lift_ci_low", "lift_ci_high",
            "p_value", "holdout_accuracy", "duration_s")


def _number(value: Any) -> float | None:
    """Metrics arrive as numpy floats; an undefined metric (NaN) is stored as NULL."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def record_training_run(bind: Engine | Connection, **fields: Any) -> int:
    """Insert one training run and return its id.

    ``symbol``, ``timeframe`` and ``horizon`` are required; ``run_date`` defaults to now and
    ``status`` to ``"completed"``. JSON fields (``models``, ``weights``, ``report``) accept numpy
    values; NaN is stored as null. Unknown field names are refused before anything is written.
    """
    check_fields("training_runs", fields, _FIELDS, ("symbol", "timeframe", "horizon"))
    check_timeframe(str(fields["timeframe"]))
    numbers = {name: _number(fields[name]) for name in _NUMBERS if name in fields}
    check_finite("training_runs", numbers, numbers)
    counts = {name: int(fields[name]) for name in ("horizon", "n_samples") if fields.get(name) is not None}
    values = {"run_date": utc_now(), "status": "completed", **fields, **numbers, **counts}
    values["run_date"] = to_utc(values["run_date"])
    with transaction(bind) as connection:
        return int(connection.execute(sa.insert(TrainingRun).values(**values).returning(TrainingRun.id)).scalar_one())


def latest_training_runs(
    bind: Engine | Connection,
    symbol: str | None = None,
    timeframe: str | None = None,
    *,
    horizon: int | None = None,
    limit: int = 20,
) -> list[TrainingRun]:
    """The newest runs first (optionally for one symbol/timeframe/horizon)."""
    query = where_equal(sa.select(TrainingRun), TrainingRun, symbol=symbol, timeframe=timeframe, horizon=horizon)
    query = query.order_by(TrainingRun.run_date.desc(), TrainingRun.id.desc()).limit(limit)
    return fetch_all(bind, query)
