"""The trial ledger: ledger_trials, one row per evaluated configuration set of a target.

The ledger is append-only: the downgrade drops the table only while it is empty, and refuses
(naming the rows it would lose) otherwise — a ledger is never erased silently.

Revision ID: 0002_trial_ledger
Revises: 0001_initial
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0002_trial_ledger"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stats = ("lift", "lift_ci_low", "lift_ci_high", "p_value")
    op.create_table(
        "ledger_trials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("label_kind", sa.String(32), nullable=False),
        sa.Column("label", sa.String(255), nullable=True),
        sa.Column("config_hash", sa.String(128), nullable=True),
        sa.Column("data_fingerprint", sa.String(128), nullable=True),
        sa.Column("data_first", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data_last", sa.DateTime(timezone=True), nullable=True),
        sa.Column("n_samples", sa.Integer(), nullable=True),
        *(sa.Column(c, sa.Integer(), nullable=False) for c in ("n_trials", "tuning_trials", "prior_trials")),
        *(sa.Column(c, sa.Double(), nullable=True) for c in stats),
        sa.Column("verdict", sa.String(64), nullable=True),
        sa.Column("sharpe", sa.Double(), nullable=True),
        sa.Column("deflated_sharpe", sa.Double(), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("command", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(128), nullable=True),
        sa.Column("candor_version", sa.String(32), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_trials"),
    )
    op.create_index("ix_ledger_trials_symbol_timeframe_horizon_label_kind", "ledger_trials",
                    ["symbol", "timeframe", "horizon", "label_kind"])
    op.create_index("ix_ledger_trials_recorded_at", "ledger_trials", ["recorded_at"])


def downgrade() -> None:
    rows = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM ledger_trials")).scalar_one()
    if rows:
        raise RuntimeError(f"ledger_trials holds {rows} trial(s); the trial ledger is never dropped by a "
                           "downgrade — copy it elsewhere and drop it by hand if you mean to lose it")
    op.drop_index("ix_ledger_trials_recorded_at", table_name="ledger_trials")
    op.drop_index("ix_ledger_trials_symbol_timeframe_horizon_label_kind", table_name="ledger_trials")
    op.drop_table("ledger_trials")
