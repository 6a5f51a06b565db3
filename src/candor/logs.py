"""Logging setup: readable lines by default, one JSON object per line with ``--log-json``.

Each JSON line holds timestamp, level, message, module, function, and ``metrics`` when the
record carries them (``logger.info("...", extra={"metrics": {...}})``), so a log shipper can
index the numbers without parsing the message.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "message": record.getMessage(),
            "module": record.module,
            "function": record.funcName,
        }
        metrics = getattr(record, "metrics", None)
        if metrics is not None:
            payload["metrics"] = metrics
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(level: str = "WARNING", json_lines: bool = False) -> None:
    """Route candor's loggers to stderr at ``level``; JSON lines when asked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("candor")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # MLflow and Alembic announce routine schema checks at INFO; keep them out of candor's output.
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
