"""candor's web service: a thin FastAPI shell over the store, the registry and the model artifact.

Nothing in the core imports this package. :func:`create_app` wires an engine and a registry that
the caller built (``candor serve`` does it from the config); routes only parse, call the
library and render.
"""

from __future__ import annotations

from candor.api.app import create_app

__all__ = ["create_app"]
