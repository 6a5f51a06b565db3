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
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from candor.config import Config
from candor.errors import ConfigError
from candor.store import Store, connect_store, make_engine, upgrade

if TYPE_CHECKING:  # the registry loads where services are opened: the bar commands
    # (`data import`, `data list`) open the store alone and never pay for it
    from candor.registry.registry import Registry
    from candor.registry.tracking import Tracking


@dataclass(frozen=True)
class Services:
    """The operational store, the MLflow tracking client and the registry over both.

    ``tracking`` (MLflow's client and experiment) is opened on its first use
    (:class:`~candor.registry.common.Lazy`): MLflow is 1.5 s of imports and store set-up, and the
    daily jobs (forecast, drift) read the registry through :mod:`candor.registry.direct` without
    it when the tracking store is a SQL database. The registry's writes, and any read the direct
    reader cannot answer, open it.
    """

    config: Config
    store: Store
    tracking: Tracking
    registry: Registry

    @property
    def engine(self) -> Engine:
        return self.store.engine

    def ready_tracking(self) -> str:
        """Open MLflow's store and candor's experiment now (it opens on first use otherwise), so a
        broken store fails here and processes started after this one do not race to create it;
        returns the experiment id."""
        return str(self.tracking.experiment_id)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_home(config: Config) -> None:
    """``<home>`` is, or can be created as, a writable directory — checked without creating it."""
    home = config.home
    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        why = "Not a directory" if existing == home else f"{str(existing)!r} is a file"
        raise ConfigError(f"`home` must be a writable directory. Got {str(home)!r}: {why}; set CANDOR_HOME or "
                          "`home` in candor.toml.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"`home` must be a writable directory. Got {str(home)!r}: not writable; "
                          "set CANDOR_HOME or `home` in candor.toml.")


def ensure_home(config: Config) -> None:
    """Create ``<home>``; a path that is a file or not writable is a configuration error."""
    check_home(config)
    try:
        config.home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"`home` must be a writable directory. Got {str(config.home)!r}: "
                          f"{exc.strerror or exc}; set CANDOR_HOME or `home` in candor.toml.") from None
    if not os.access(config.home, os.W_OK | os.X_OK):
        raise ConfigError(f"`home` must be a writable directory. Got {str(config.home)!r}: not writable; "
                          "set CANDOR_HOME or `home` in candor.toml.")


def check_services(config: Config) -> None:
    """Everything :func:`open_services` can check without a connection or a write: ``<home>``, a
    tracking backend's extra, the database URL and the tracking URI. ConfigError (exit 3) otherwise."""
    from candor.registry.tracking import check_tracking_uri
    from candor.registry.wandb_sink import training_sinks

    training_sinks(config)  # a W&B backend without its package fails here
    check_home(config)
    make_engine(config.store_url).dispose()  # a URL SQLAlchemy cannot use; connects to nothing
    check_tracking_uri(config.tracking_store)


def open_store(config: Config, *, migrate: bool = False, require_schema: bool = True) -> Store:
    """The operational store alone (the bar commands need no tracking), opened by the rules of
    :func:`open_services`: a configured database (``database_url``) is reached before ``<home>`` is
    created and must be at this candor's schema (``candor db upgrade``; ``migrate`` migrates it
    first, ``require_schema=False`` skips the check); the embedded default,
    ``sqlite:///<home>/candor.db``, gets its schema on first use."""
    check_home(config)
    if config.database_url is not None:  # an unreachable or unmigrated server fails before anything is written
        if migrate:
            upgrade(config.store_url)
        return connect_store(config.store_url, require_schema=require_schema)
    ensure_home(config)
    return connect_store(config.store_url, create_schema=True)


def open_services(config: Config, *, migrate: bool = False, require_schema: bool = True) -> Services:
    """Connect to the configured store (:func:`open_store`) and reach the tracking server: validate,
    then open. MLflow's client and experiment are opened on first use (:class:`Services`), or now
    with ``migrate`` (which readies both stores: the universe opens them once before its workers race).

    :func:`check_services` runs first, so a refused call leaves ``<home>`` as it was.
    """
    from candor.registry.common import Lazy
    from candor.registry.direct import direct_reader
    from candor.registry.gates import default_gates
    from candor.registry.registry import Registry
    from candor.registry.tracking import open_tracking, probe_tracking
    from candor.registry.wandb_sink import training_sinks

    check_services(config)
    probe_tracking(config.tracking_store)  # an unreachable server: one line in seconds, nothing written yet
    sinks = training_sinks(config)
    store = open_store(config, migrate=migrate, require_schema=require_schema)
    try:
        ensure_home(config)  # the default tracking store and the artifacts live there
        reader = direct_reader(config.tracking_store)
    except BaseException:
        store.close()
        raise
    tracking = Lazy(lambda: open_tracking(config.tracking_store, config.artifact_root,
                                          log_details=config.tracking.mlflow_details, sinks=sinks))
    registry = Registry(Lazy(lambda: tracking.client), store.engine, gates=default_gates(config.registry),
                        max_model_age_days=config.registry.max_model_age_days, uri=config.tracking_store,
                        reader=reader)
    services = Services(config, store, tracking, registry)  # type: ignore[arg-type]  # Lazy stands for Tracking
    if migrate:  # both stores made ready now: parallel workers then find MLflow's tables created
        try:
            services.ready_tracking()
        except BaseException:
            store.close()
            raise
    return services
