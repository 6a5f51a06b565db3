"""Logging setup: readable lines by default, one JSON object per line with ``--log-json``.

Each JSON line holds timestamp, level, logger, message, module, function, and ``stage`` and
``metrics`` when the record carries them (``logger.info("...", extra={"stage": "folds", "metrics":
{...}})``), so a log shipper can index the numbers without parsing the message.

Optuna logs through its own ``optuna`` logger and stderr handler; :func:`adopt_optuna` (called
where Optuna is imported) turns that handler off and hands its records to candor's handlers, so
``--log-json`` stays one JSON object per line. :func:`collected` gathers one run's INFO lines
(a training's log, written beside its report) whatever level stderr shows.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "module": record.module,
            "function": record.funcName,
        }
        stage = getattr(record, "stage", None)
        if stage is not None:
            payload["stage"] = stage
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
    adopt_optuna()


class _ToCandor(logging.Handler):
    """Hands a record of another library's logger to candor's handlers (its own level applies)."""

    def emit(self, record: logging.LogRecord) -> None:
        logging.getLogger("candor").handle(record)


def adopt_optuna() -> None:
    """Optuna's lines through candor's handlers, at candor's level: Optuna's own stderr handler off
    (``optuna.logging.disable_default_handler``), its records propagated into candor's setup. Does
    nothing until Optuna is imported (it adds its handler on import), so callers that import it
    call this again; idempotent."""
    optuna = sys.modules.get("optuna")
    if optuna is None or not hasattr(optuna, "logging"):
        return
    optuna.logging.disable_default_handler()
    logger = logging.getLogger("optuna")
    logger.propagate = False  # candor's handlers only, never twice through the root's
    if not any(isinstance(h, _ToCandor) for h in logger.handlers):
        logger.addHandler(_ToCandor())
    logger.setLevel(logging.getLogger("candor").getEffectiveLevel())


class _Collect(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class _Forward(logging.Handler):
    """What propagation to ``parent`` would have shown, at the level it showed it."""

    def __init__(self, parent: logging.Logger, level: int) -> None:
        super().__init__(level)
        self.parent = parent

    def emit(self, record: logging.LogRecord) -> None:
        self.parent.callHandlers(record)


@contextmanager
def collected(level: int = logging.INFO) -> Iterator[list[str]]:
    """Collect candor's records at ``level`` and above as JSON lines while the block runs; what
    stderr (candor's handlers, or the root's through propagation) shows is unchanged."""
    logger = logging.getLogger("candor")
    collect = _Collect(level)
    shown, before_level, before_propagate = logger.getEffectiveLevel(), logger.level, logger.propagate
    saved = [(h, h.level) for h in logger.handlers]
    added: list[logging.Handler] = [collect]
    if shown > level:
        for handler, was in saved:
            handler.setLevel(max(was, shown))
        if logger.propagate and logger.parent is not None:
            added.append(_Forward(logger.parent, shown))
            logger.propagate = False
        logger.setLevel(level)
    for handler in added:
        logger.addHandler(handler)
    try:
        yield collect.lines
    finally:
        for handler in added:
            logger.removeHandler(handler)
        for handler, was in saved:
            handler.setLevel(was)
        logger.setLevel(before_level)
        logger.propagate = before_propagate
