"""Conformal prediction sets and abstentions on ml_forecasts.

``prediction_set`` (JSON list of directions, null when the champion has no calibration data),
``set_alpha`` (the miscoverage level α_t the set was built at, after adaptive conformal updates)
and ``abstain_reason`` (why a forecast's direction is ``NONE``; null when it did not abstain).

The downgrade refuses while any forecast abstained (direction ``NONE``): earlier candor reads only
BEARISH / NEUTRAL / BULLISH, and dropping the reason would leave rows it cannot read. The sets of
forecasts that did not abstain are dropped with their columns.

Revision ID: 0003_forecast_sets
Revises: 0002_trial_ledger
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision = "0003_forecast_sets"
down_revision = "0002_trial_ledger"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("ml_forecasts") as batch:
        batch.add_column(sa.Column("prediction_set", JSON, nullable=True))
        batch.add_column(sa.Column("set_alpha", sa.Double(), nullable=True))
        batch.add_column(sa.Column("abstain_reason", sa.String(255), nullable=True))


def downgrade() -> None:
    rows = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM ml_forecasts WHERE direction = 'NONE'")).scalar_one()
    if rows:
        raise RuntimeError(f"ml_forecasts holds {rows} abstention(s) (direction NONE) that earlier candor cannot "
                           "read; delete or re-forecast them before downgrading below 0003_forecast_sets")
    with op.batch_alter_table("ml_forecasts") as batch:
        batch.drop_column("abstain_reason")
        batch.drop_column("set_alpha")
        batch.drop_column("prediction_set")
