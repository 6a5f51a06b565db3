"""The paper ledger's booked days: ``paper_ledger``, one row per series × horizon × UTC day.

Written by the drift job (:func:`candor.ops.paper.book_ledger`): the served forecasts' compounded
return of the day under the backtest convention, buy & hold's, and the position held at the day's
end; unique per (symbol, timeframe, horizon, day), so a re-run books nothing twice.

The downgrade drops the table only while it is empty, and refuses (naming the rows it would lose)
otherwise — booked P&L is never erased silently.

Revision ID: 0006_paper_ledger
Revises: 0005_drift_by_bar
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0006_paper_ledger"
down_revision = "0005_drift_by_bar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(c, sa.Double(), nullable=False) for c in ("live_return", "buy_and_hold", "position")),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_paper_ledger"),
        sa.UniqueConstraint("symbol", "timeframe", "horizon", "day",
                            name="uq_paper_ledger_symbol_timeframe_horizon_day"),
    )


def downgrade() -> None:
    rows = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM paper_ledger")).scalar_one()
    if rows:
        raise RuntimeError(f"paper_ledger holds {rows} booked day(s) that earlier candor cannot read; export them "
                           "(candor paper --output-json) and drop the table by hand before downgrading below "
                           "0006_paper_ledger")
    op.drop_table("paper_ledger")
