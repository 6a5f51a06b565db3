"""Drift rows keyed by the bar they judge: ``drift_monitoring.horizon`` and ``.bar_ts``.

``drift_monitoring`` was unique per (symbol, timeframe, date): the wall-clock day of the check, so
a replay or a backfill of N bars in one day kept one row and lost the rest of its history. A row
is now one check of one series × horizon on its newest bar, unique per (symbol, timeframe,
horizon, bar_ts); a re-run on the same bar replaces it, a new bar adds a row. ``date`` stays: the
day the check ran.

Existing rows: ``horizon`` is the horizon whose numbers the row carries (``details["horizon"]``,
the worst horizon of that day), else the only entry of ``details["horizons"]``, else 1; ``bar_ts``
is midnight UTC of the row's ``date`` (the bar it judged was not recorded; the date it ran is the
closest thing stored, and one row per date keeps the old key unique under the new one).

Downgrade keeps the newest row (highest id) of each (symbol, timeframe, date), which is the row
earlier candor would have kept (a re-run replaced it), and drops the two columns.

Revision ID: 0005_drift_by_bar
Revises: 0004_shadow_forecasts
Create Date: 2026-12-07
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op


revision = "0005_drift_by_bar"
down_revision = "0004_shadow_forecasts"
branch_labels = None
depends_on = None

OLD_KEY = "uq_drift_monitoring_symbol_timeframe_date"
NEW_KEY = "uq_drift_monitoring_symbol_timeframe_horizon_bar_ts"
_ROWS = sa.table("drift_monitoring", sa.column("id", sa.Integer()), sa.column("date", sa.Date()),
                 sa.column("details", sa.JSON()), sa.column("horizon", sa.Integer()),
                 sa.column("bar_ts", sa.DateTime(timezone=True)))


def _horizon(details: object) -> int:
    """The horizon an old row's numbers belong to (see the module note)."""
    if isinstance(details, dict):
        if isinstance(details.get("horizon"), int):
            return int(details["horizon"])
        entries = details.get("horizons")
        if isinstance(entries, list) and len(entries) == 1 and isinstance(entries[0], dict) \
                and isinstance(entries[0].get("horizon"), int):
            return int(entries[0]["horizon"])
    return 1


def _midnight(day: dt.date, dialect: str) -> dt.datetime:
    """Midnight UTC of ``day`` as candor's UTCDateTime stores it (naive UTC on SQLite)."""
    value = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return value.replace(tzinfo=None) if dialect == "sqlite" else value


def upgrade() -> None:
    with op.batch_alter_table("drift_monitoring") as batch:
        batch.add_column(sa.Column("horizon", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("bar_ts", sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(_ROWS.c.id, _ROWS.c.date, _ROWS.c.details)).all()
    for row_id, day, details in rows:
        bind.execute(_ROWS.update().where(_ROWS.c.id == row_id).values(
            horizon=_horizon(details), bar_ts=_midnight(day, bind.dialect.name)))
    with op.batch_alter_table("drift_monitoring") as batch:
        batch.alter_column("horizon", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("bar_ts", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_constraint(OLD_KEY, type_="unique")
        batch.create_unique_constraint(NEW_KEY, ["symbol", "timeframe", "horizon", "bar_ts"])


def downgrade() -> None:
    bind = op.get_bind()
    newest = (sa.select(sa.func.max(sa.column("id"))).select_from(sa.table("drift_monitoring"))
              .group_by(sa.column("symbol"), sa.column("timeframe"), sa.column("date")))
    keep = {int(i) for (i,) in bind.execute(newest)}
    stale = [int(i) for (i,) in bind.execute(sa.select(_ROWS.c.id)) if int(i) not in keep]
    if stale:
        bind.execute(_ROWS.delete().where(_ROWS.c.id.in_(stale)))
    with op.batch_alter_table("drift_monitoring") as batch:
        batch.drop_constraint(NEW_KEY, type_="unique")
        batch.create_unique_constraint(OLD_KEY, ["symbol", "timeframe", "date"])
        batch.drop_column("bar_ts")
        batch.drop_column("horizon")
