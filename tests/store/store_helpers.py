"""Helpers shared by the store tests (imported by module name, like tests/registry's helpers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from alembic import command

from candor.data.bars import make_bars
from candor.store.migrate import alembic_config


def sample_bars(n: int = 50, symbol: str = "SPX", timeframe: str = "d1", start: str = "2024-01-02",
                calendar: str | None = "XNYS", seed: int = 0) -> pd.DataFrame:
    """Small valid OHLCV bars with awkward floats (full float64 precision must survive)."""
    freq = {"d1": "D", "h1": "h", "m1": "min"}[timeframe]
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC")
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = close * (1 + rng.normal(0, 0.002, n))
    frame = pd.DataFrame({
        "open": open_, "close": close,
        "high": np.maximum(open_, close) * (1 + rng.random(n) / 100),
        "low": np.minimum(open_, close) * (1 - rng.random(n) / 100),
        "volume": rng.integers(1_000, 1_000_000, n).astype(float) + 0.5,
    }, index=index)
    return make_bars(frame, symbol, timeframe, calendar)


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Alembic's downgrade to ``revision`` on ``engine``'s database (the migration tests' way down)."""
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()
