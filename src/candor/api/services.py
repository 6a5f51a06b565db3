"""The FastAPI dependency that hands each route the app's :class:`candor.services.Services`.

Why on ``app.state`` instead of module globals: two apps (two tests, two stores) can live in one
process without seeing each other's state. The services — and so the registry's one champion
loader, its model cache and its age rule — are the same object the forecast job would use.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from candor.services import Services


async def services(request: Request) -> Services:
    """FastAPI dependency: the app's :class:`Services` (``async``: a plain attribute read needs no
    threadpool hop, which a sync dependency costs on every request)."""
    found = getattr(request.app.state, "services", None)
    if found is None:  # pragma: no cover - create_app always sets it
        raise HTTPException(500, "candor app was not built with create_app")
    return found


__all__ = ["Services", "services"]
