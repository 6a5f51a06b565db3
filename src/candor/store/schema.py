"""The operational tables (SQLAlchemy 2 typed declarative models).

Why these shapes:

* Times are stored timezone-aware and always come back as UTC (:class:`UTCDateTime`), on SQLite
  (which has no time zones) as on PostgreSQL (``timestamptz``), so comparisons with bar frames
  never mix naive and aware timestamps.
* ``ohlc_bars`` is keyed by ``(symbol_id, timeframe, ts)``: that primary key is both the
  uniqueness that makes imports idempotent and the index that serves range queries.
* ``ml_forecasts`` is unique per ``(symbol, timeframe, horizon, bar_ts, shadow)``: re-running the
  forecast job for a bar adds no duplicate (the champion's row and a shadow version's row of one
  bar coexist); late labels fill ``realized_*`` and ``resolved_at`` in place.
* ``drift_monitoring`` is unique per ``(symbol, timeframe, horizon, bar_ts)`` (migration 0005): one
  check per bar it judges, so a replay keeps its history; a re-run on the same bar replaces the row.
* JSON columns are ``JSON`` everywhere and ``JSONB`` on PostgreSQL (indexable, compact).

The Alembic migrations in ``candor/store/migrations`` must produce exactly this metadata; a test
compares them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Names every constraint and index predictably so migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: What an alias move can be; the audit trail refuses anything else.
#: ``shadow`` (migration 0004): a version put in, or taken out of, the ``shadow`` alias.
ALIAS_ACTIONS = ("promote", "rollback", "force_promote", "archive", "delete", "auto_rollback", "shadow")

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware timestamp that is stored as UTC and always read back as UTC.

    Naive values are refused: a naive time in a database shared by machines in different zones
    is a silent bug.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; candor stores timezone-aware UTC times")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        float: sa.Double(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


class Symbol(Base):
    """One instrument; bars refer to it by id, everything else by ticker."""

    __tablename__ = "symbols"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticker: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    asset_class: Mapped[str | None] = mapped_column(sa.String(32))
    calendar: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)


class OhlcBar(Base):
    """One bar, labelled at its open time (the bar-frame contract)."""

    __tablename__ = "ohlc_bars"

    symbol_id: Mapped[int] = mapped_column(
        sa.ForeignKey("symbols.id", ondelete="CASCADE"), primary_key=True
    )
    timeframe: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(primary_key=True)
    open: Mapped[float]
    high: Mapped[float]
    low: Mapped[float]
    close: Mapped[float]
    volume: Mapped[float]


class TrainingRun(Base):
    """One training of one symbol × timeframe × horizon: headline numbers beside their baseline."""

    __tablename__ = "training_runs"
    __table_args__ = (sa.Index(None, "symbol", "timeframe", "run_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(sa.String(64))
    timeframe: Mapped[str] = mapped_column(sa.String(8))
    horizon: Mapped[int]
    label_spec: Mapped[str | None] = mapped_column(sa.String(255))
    run_date: Mapped[dt.datetime] = mapped_column(default=utc_now)
    n_samples: Mapped[int | None]
    models: Mapped[list[Any] | None]
    weights: Mapped[dict[str, Any] | None]
    oos_accuracy: Mapped[float | None]
    oos_f1: Mapped[float | None]
    best_baseline: Mapped[str | None] = mapped_column(sa.String(64))
    baseline_accuracy: Mapped[float | None]
    lift: Mapped[float | None]
    lift_ci_low: Mapped[float | None]
    lift_ci_high: Mapped[float | None]
    p_value: Mapped[float | None]
    verdict: Mapped[str | None] = mapped_column(sa.String(64))
    holdout_accuracy: Mapped[float | None]
    mlflow_run_id: Mapped[str | None] = mapped_column(sa.String(64))
    model_name: Mapped[str | None] = mapped_column(sa.String(200))
    model_version: Mapped[str | None] = mapped_column(sa.String(32))
    data_fingerprint: Mapped[str | None] = mapped_column(sa.String(128))
    config_hash: Mapped[str | None] = mapped_column(sa.String(128))
    candor_version: Mapped[str | None] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default="completed")
    duration_s: Mapped[float | None]
    report: Mapped[dict[str, Any] | None]


class MlForecast(Base):
    """One direction forecast for one bar; the realised outcome is filled in when it resolves."""

    __tablename__ = "ml_forecasts"
    __table_args__ = (
        sa.UniqueConstraint("symbol", "timeframe", "horizon", "bar_ts", "shadow"),
        sa.Index(None, "symbol", "timeframe", "bar_ts"),
        sa.Index(None, "resolved_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(sa.String(64))
    timeframe: Mapped[str] = mapped_column(sa.String(8))
    horizon: Mapped[int]
    bar_ts: Mapped[dt.datetime]
    generated_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    direction: Mapped[str] = mapped_column(sa.String(16))
    prob_bearish: Mapped[float | None]
    prob_neutral: Mapped[float | None]
    prob_bullish: Mapped[float | None]
    confidence: Mapped[float]
    model_name: Mapped[str] = mapped_column(sa.String(200))
    model_version: Mapped[str] = mapped_column(sa.String(32))
    consensus_direction: Mapped[str | None] = mapped_column(sa.String(16))
    consensus_agreement: Mapped[float | None]
    realized_direction: Mapped[str | None] = mapped_column(sa.String(16))
    realized_return: Mapped[float | None]
    resolved_at: Mapped[dt.datetime | None]
    # Migration 0003: the conformal set at level 1 - set_alpha (null: the champion has no calibration
    # data) and why the forecast abstained (direction NONE); candor.ops.forecast fills them.
    prediction_set: Mapped[list[Any] | None]
    set_alpha: Mapped[float | None]
    abstain_reason: Mapped[str | None] = mapped_column(sa.String(255))
    # Migration 0004: made by the series' shadow version (beside the champion's row, never served).
    shadow: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class DriftRow(Base):
    """One drift check of one symbol × timeframe × horizon on the newest bar it judged (``bar_ts``);
    ``date`` is the day the check ran."""

    __tablename__ = "drift_monitoring"
    __table_args__ = (sa.UniqueConstraint("symbol", "timeframe", "horizon", "bar_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(sa.String(64))
    timeframe: Mapped[str] = mapped_column(sa.String(8))
    date: Mapped[dt.date]
    accuracy: Mapped[float | None]
    n: Mapped[int]
    baseline: Mapped[float | None]
    margin: Mapped[float | None]
    status: Mapped[str] = mapped_column(sa.String(16))
    calibration_error: Mapped[float | None]
    max_feature_psi: Mapped[float | None]
    prediction_psi: Mapped[float | None]
    details: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
    # Migration 0005: the key is the bar judged, not the wall-clock date.
    horizon: Mapped[int]
    bar_ts: Mapped[dt.datetime]


class AliasEvent(Base):
    """One move of a registry alias: who, why, when, from → to (MLflow keeps no such history)."""

    __tablename__ = "alias_events"
    __table_args__ = (
        sa.CheckConstraint(
            "action IN ({})".format(", ".join(f"'{a}'" for a in ALIAS_ACTIONS)), name="action"
        ),
        sa.Index(None, "model_name", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(sa.String(200))
    alias: Mapped[str] = mapped_column(sa.String(64))
    from_version: Mapped[str | None] = mapped_column(sa.String(32))
    to_version: Mapped[str | None] = mapped_column(sa.String(32))
    action: Mapped[str] = mapped_column(sa.String(32))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    actor: Mapped[str | None] = mapped_column(sa.String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utc_now)


class LedgerTrial(Base):
    """One evaluated configuration set of one target (series × horizon × label kind): the trial
    ledger (:mod:`candor.store.ledger`). Append-only: candor has no delete path for it."""

    __tablename__ = "ledger_trials"
    __table_args__ = (sa.Index(None, "symbol", "timeframe", "horizon", "label_kind"),
                      sa.Index(None, "recorded_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(sa.String(64))
    timeframe: Mapped[str] = mapped_column(sa.String(8))
    horizon: Mapped[int]
    label_kind: Mapped[str] = mapped_column(sa.String(32))
    label: Mapped[str | None] = mapped_column(sa.String(255))
    config_hash: Mapped[str | None] = mapped_column(sa.String(128))
    data_fingerprint: Mapped[str | None] = mapped_column(sa.String(128))
    data_first: Mapped[dt.datetime | None]
    data_last: Mapped[dt.datetime | None]
    n_samples: Mapped[int | None]
    n_trials: Mapped[int]
    tuning_trials: Mapped[int]
    prior_trials: Mapped[int]
    lift: Mapped[float | None]
    lift_ci_low: Mapped[float | None]
    lift_ci_high: Mapped[float | None]
    p_value: Mapped[float | None]
    verdict: Mapped[str | None] = mapped_column(sa.String(64))
    sharpe: Mapped[float | None]
    deflated_sharpe: Mapped[float | None]
    dry_run: Mapped[bool]
    command: Mapped[str] = mapped_column(sa.String(200))
    actor: Mapped[str | None] = mapped_column(sa.String(128))
    candor_version: Mapped[str | None] = mapped_column(sa.String(32))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utc_now)


TABLES = tuple(Base.metadata.sorted_tables)


class PaperDayRow(Base):
    """One booked day of the paper ledger of one series × horizon (:mod:`candor.store.paper`): the
    served forecasts' compounded return that UTC day under the backtest convention, beside buy & hold."""

    __tablename__ = "paper_ledger"
    __table_args__ = (sa.UniqueConstraint("symbol", "timeframe", "horizon", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(sa.String(64))
    timeframe: Mapped[str] = mapped_column(sa.String(8))
    horizon: Mapped[int]
    day: Mapped[dt.date]
    live_return: Mapped[float]
    buy_and_hold: Mapped[float]
    position: Mapped[float]
    booked_at: Mapped[dt.datetime] = mapped_column(default=utc_now)
