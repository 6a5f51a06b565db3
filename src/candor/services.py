"""The composition root: the one place where store, tracking and registry are assembled.

Every command, the scheduler, the web service and the universe runner call
:func:`open_services` with the one frozen :class:`~candor.config.Config`, so they all read the
same home, database, tracking server, gates and age rule. Before this module existed six call
sites wired these by hand and drifted apart: the scheduled retrain silently replaced configured
backtest gates by defaults, and ``candor registry`` ignored a configured ``home``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from candor.config import Config
from candor.errors import ConfigError
from candor.registry.gates import default_gates
from candor.registry.registry import Registry
from candor.registry.tracking import Tracking, open_tracking
from candor.registry.wandb_sink import training_sinks
from candor.store import Store, connect_store, upgrade


@dataclass(frozen=True)
class Services:
    """The operational store, the MLflow tracking client and the registry over both."""

    config: Config
    store: Store
    tracking: Tracking
    registry: Registry

    @property
    def engine(self) -> Engine:
        return self.store.engine

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ensure_home(config: Config) -> None:
    """Create ``<home>``; a path that is a file or not writable is a configuration error."""
    try:
        config.home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"`home` must be a writable directory. Got {str(config.home)!r}: "
                          f"{exc.strerror or exc}; set CANDOR_HOME or `home` in candor.toml.") from None
    if not os.access(config.home, os.W_OK | os.X_OK):
        raise ConfigError(f"`home` must be a writable directory. Got {str(config.home)!r}: not writable; "
                          "set CANDOR_HOME or `home` in candor.toml.")


def open_services(config: Config, *, migrate: bool = False, require_schema: bool = True) -> Services:
    """Connect to the configured store (migrating it first with ``migrate``) and tracking server.

    Fails with one line before anything is written when the database is unreachable or, unless
    ``require_schema=False``, not at this candor's schema.
    """
    sinks = training_sinks(config)  # a W&B backend without its package fails here, before any write
    ensure_home(config)
    if migrate:
        upgrade(config.store_url)
    store = connect_store(config.store_url, require_schema=require_schema)
    try:
        tracking = open_tracking(config.tracking_store, config.artifact_root,
                                 log_details=config.tracking.mlflow_details, sinks=sinks)
    except BaseException:
        store.close()
        raise
    registry = Registry(tracking.client, store.engine, gates=default_gates(config.registry),
                        max_model_age_days=config.registry.max_model_age_days)
    return Services(config, store, tracking, registry)
