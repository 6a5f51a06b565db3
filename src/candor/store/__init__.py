"""The operational store: SQLAlchemy tables, Alembic migrations and small query functions.

Every function takes an Engine (or a Connection, to group calls in one caller-owned
transaction) explicitly; nothing here is a global. Typical use::

    from candor.store import connect_store, import_bars, load_bars
    with connect_store() as store:
        import_bars(store.engine, bars)
        bars = load_bars(store.engine, "SPX", "d1")
"""

from __future__ import annotations

from candor.store.audit import alias_events, record_alias_event
from candor.store.bars import SeriesInfo, import_bars, list_series, load_bars, load_tails, replace_bars
from candor.store.connect import Store, connect_store
from candor.store.drift import drift_rows, latest_drift_row, upsert_drift_row
from candor.store.engine import make_engine, safe_url
from candor.store.forecasts import (
    Resolution,
    forecasts,
    resolve_forecast,
    resolve_forecasts,
    unresolved_forecasts,
    upsert_forecasts,
)
from candor.store.migrate import UpgradeResult, current_revision, head_revision, upgrade
from candor.store.runs import latest_training_runs, record_training_run
from candor.store.schema import AliasEvent, DriftRow, MlForecast, Symbol, TrainingRun

__all__ = [
    "AliasEvent", "DriftRow", "MlForecast", "Resolution", "SeriesInfo", "Store", "Symbol",
    "TrainingRun", "UpgradeResult", "alias_events", "connect_store", "current_revision",
    "drift_rows", "forecasts", "head_revision", "import_bars", "latest_drift_row", "latest_training_runs", "list_series",
    "load_bars", "load_tails", "make_engine", "replace_bars", "record_alias_event", "record_training_run",
    "resolve_forecast", "resolve_forecasts", "safe_url", "unresolved_forecasts", "upgrade",
    "upsert_drift_row", "upsert_forecasts",
]
