"""candor — direction forecasts from OHLCV bars that do not fool their user."""

from __future__ import annotations

import os

# MLflow otherwise phones home; candor never needs the network at run time.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# MLflow announces routine store migrations at INFO on its own handler; candor prints its own report.
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")

__version__ = "0.1.0"
