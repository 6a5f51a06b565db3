"""Initial operational store: symbols, ohlc_bars, training_runs, ml_forecasts, drift_monitoring,
alias_events.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ACTIONS = ("promote", "rollback", "force_promote", "archive", "delete", "auto_rollback")


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _create_symbols() -> None:
    op.create_table(
        "symbols",
        _id(),
        sa.Column("ticker", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("asset_class", sa.String(32), nullable=True),
        sa.Column("calendar", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_symbols"),
        sa.UniqueConstraint("ticker", name="uq_symbols_ticker"),
    )


def _create_ohlc_bars() -> None:
    op.create_table(
        "ohlc_bars",
        sa.Column("symbol_id", sa.Integer(), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(c, sa.Double(), nullable=False) for c in ("open", "high", "low", "close", "volume")),
        sa.ForeignKeyConstraint(
            ["symbol_id"], ["symbols.id"], name="fk_ohlc_bars_symbol_id_symbols", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("symbol_id", "timeframe", "ts", name="pk_ohlc_bars"),
    )


def _create_training_runs() -> None:
    doubles = ("oos_accuracy", "oos_f1")
    stats = ("baseline_accuracy", "lift", "lift_ci_low", "lift_ci_high", "p_value")
    op.create_table(
        "training_runs",
        _id(),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("label_spec", sa.String(255), nullable=True),
        sa.Column("run_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_samples", sa.Integer(), nullable=True),
        sa.Column("models", JSON, nullable=True),
        sa.Column("weights", JSON, nullable=True),
        *(sa.Column(c, sa.Double(), nullable=True) for c in doubles),
        sa.Column("best_baseline", sa.String(64), nullable=True),
        *(sa.Column(c, sa.Double(), nullable=True) for c in stats),
        sa.Column("verdict", sa.String(64), nullable=True),
        sa.Column("holdout_accuracy", sa.Double(), nullable=True),
        sa.Column("mlflow_run_id", sa.String(64), nullable=True),
        sa.Column("model_name", sa.String(200), nullable=True),
        sa.Column("model_version", sa.String(32), nullable=True),
        sa.Column("data_fingerprint", sa.String(128), nullable=True),
        sa.Column("config_hash", sa.String(128), nullable=True),
        sa.Column("candor_version", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.Column("report", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_training_runs"),
    )
    op.create_index(
        "ix_training_runs_symbol_timeframe_run_date", "training_runs", ["symbol", "timeframe", "run_date"]
    )


def _create_ml_forecasts() -> None:
    op.create_table(
        "ml_forecasts",
        _id(),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("bar_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        *(sa.Column(f"prob_{c}", sa.Double(), nullable=True) for c in ("bearish", "neutral", "bullish")),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("consensus_direction", sa.String(16), nullable=True),
        sa.Column("consensus_agreement", sa.Double(), nullable=True),
        sa.Column("realized_direction", sa.String(16), nullable=True),
        sa.Column("realized_return", sa.Double(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ml_forecasts"),
        sa.UniqueConstraint(
            "symbol", "timeframe", "horizon", "bar_ts", name="uq_ml_forecasts_symbol_timeframe_horizon_bar_ts"
        ),
    )
    op.create_index("ix_ml_forecasts_symbol_timeframe_bar_ts", "ml_forecasts", ["symbol", "timeframe", "bar_ts"])
    op.create_index("ix_ml_forecasts_resolved_at", "ml_forecasts", ["resolved_at"])


def _create_drift_monitoring() -> None:
    optional = ("accuracy",)
    extras = ("baseline", "margin")
    psi = ("calibration_error", "max_feature_psi", "prediction_psi")
    op.create_table(
        "drift_monitoring",
        _id(),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        *(sa.Column(c, sa.Double(), nullable=True) for c in optional),
        sa.Column("n", sa.Integer(), nullable=False),
        *(sa.Column(c, sa.Double(), nullable=True) for c in extras),
        sa.Column("status", sa.String(16), nullable=False),
        *(sa.Column(c, sa.Double(), nullable=True) for c in psi),
        sa.Column("details", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drift_monitoring"),
        sa.UniqueConstraint("symbol", "timeframe", "date", name="uq_drift_monitoring_symbol_timeframe_date"),
    )


def _create_alias_events() -> None:
    op.create_table(
        "alias_events",
        _id(),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("alias", sa.String(64), nullable=False),
        sa.Column("from_version", sa.String(32), nullable=True),
        sa.Column("to_version", sa.String(32), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alias_events"),
        sa.CheckConstraint(
            "action IN ({})".format(", ".join(f"'{a}'" for a in ACTIONS)), name="ck_alias_events_action"
        ),
    )
    op.create_index("ix_alias_events_model_name_created_at", "alias_events", ["model_name", "created_at"])


def upgrade() -> None:
    _create_symbols()
    _create_ohlc_bars()
    _create_training_runs()
    _create_ml_forecasts()
    _create_drift_monitoring()
    _create_alias_events()


def downgrade() -> None:
    for table in ("alias_events", "drift_monitoring", "ml_forecasts", "training_runs", "ohlc_bars", "symbols"):
        op.drop_table(table)
