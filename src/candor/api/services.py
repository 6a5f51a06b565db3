"""What every route needs: the config, the store engine, the registry and a small model cache.

Why an explicit object on ``app.state`` instead of module globals: two apps (two tests, two
stores) can live in one process without seeing each other's state (house rule 8).
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy.engine import Engine

from candor.config import Config
from candor.errors import RegistryError
from candor.registry.common import MANIFEST_SHA, model_name


@dataclass
class Services:
    config: Config
    engine: Engine
    registry: Any
    _models: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def champion(self, symbol: str, timeframe: str) -> tuple[Any, str]:
        """The champion model of a series and its version, loaded once per (version, manifest hash).

        The registry is asked which version is champion on every call, so a promotion or rollback
        takes effect on the next request; the age limit is re-checked on every call, too.
        """
        name = model_name(symbol, timeframe)
        max_age = self.config.registry.max_model_age_days
        try:
            mv = self.registry.version(name, "champion")
        except RegistryError:
            raise RegistryError(f"no champion for {symbol}/{timeframe}; train and promote one first "
                                f"(candor train ... --promote)") from None
        key = (name, str(mv.version), str(mv.tags.get(MANIFEST_SHA, "")))
        with self._lock:
            model = self._models.get(key)
        if model is None:
            model = self.registry.load_champion(symbol, timeframe, max_age_days=max_age)
            with self._lock:
                self._models[key] = model
        age = (dt.datetime.now(dt.UTC) - model.created_at).days
        if age > max_age:
            raise RegistryError(f"champion of {symbol}/{timeframe} is {age} days old (max {max_age}); retrain it.")
        return model, str(mv.version)


def services(request: Request) -> Services:
    """FastAPI dependency: the app's :class:`Services`."""
    found = getattr(request.app.state, "services", None)
    if found is None:  # pragma: no cover - create_app always sets it
        raise HTTPException(500, "candor app was not built with create_app")
    return found
