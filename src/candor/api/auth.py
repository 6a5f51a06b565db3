"""Bearer-token guard for the write endpoints (promote, rollback).

Why these status codes: no ``Authorization: Bearer`` header → 401 (the client must
authenticate); a token that does not match → 403 (authenticated as nobody allowed). With no token
configured, writes are switched off (403): an open ``promote`` endpoint would let anyone put any
model in production.
"""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from candor.api.services import Services, services

_bearer = HTTPBearer(auto_error=False, description="api.token from the config (CANDOR_API_TOKEN)")


def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
                  svc: Services = Depends(services)) -> str:
    """Return the actor name recorded in the audit trail, or raise 401/403."""
    expected = svc.config.api.token
    if expected is None:
        raise HTTPException(403, "write endpoints are disabled: set CANDOR_API_TOKEN (api.token) and restart "
                                 "candor serve")
    if credentials is None:
        raise HTTPException(401, "missing bearer token: send 'Authorization: Bearer <api.token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.credentials.encode(), expected.get_secret_value().encode()):
        raise HTTPException(403, "wrong bearer token")
    return "api"


def require_token_if_set(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
                         svc: Services = Depends(services)) -> str:
    """For compute endpoints (``/api/predict``): open while no token is configured (a local
    dashboard), guarded by the same bearer token as the writes once one is."""
    if svc.config.api.token is None:
        return "anonymous"
    return require_token(credentials, svc)
