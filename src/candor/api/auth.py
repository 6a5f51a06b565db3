"""Bearer-token guard for the write endpoints (promote, rollback).

Why these status codes: no ``Authorization: Bearer`` header → 401 (the client must
authenticate); a token that does not match → 403 (authenticated as nobody allowed). With no token
configured, writes are switched off (403): an open ``promote`` endpoint would let anyone put any
model in production.

Why :func:`token_refusal` is apart from the dependencies: FastAPI reads and parses a request's
body before it solves the route's dependencies, so a dependency alone lets an anonymous client
make the server read a body. ``candor.api.app`` runs the same check on the headers before a
guarded route's body is read; the dependencies keep it for the route itself (and the OpenAPI docs).
"""

from __future__ import annotations

import hmac

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import SecretStr

from candor.api.services import Services, services

_bearer = HTTPBearer(auto_error=False, description="api.token from the config (CANDOR_API_TOKEN)")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else None (as
    :class:`HTTPBearer` with ``auto_error=False`` reads it)."""
    scheme, credentials = get_authorization_scheme_param(authorization)
    return credentials if authorization and credentials and scheme.lower() == "bearer" else None


def token_refusal(expected: SecretStr | None, token: str | None, *, required: bool = True) -> HTTPException | None:
    """The 401/403 a request with bearer ``token`` gets, or None when it may go on. ``required``
    False (compute endpoints): open while no token is configured."""
    if expected is None:
        if not required:
            return None
        return HTTPException(403, "write endpoints are disabled: set CANDOR_API_TOKEN (api.token) and restart "
                                  "candor serve")
    if token is None:
        return HTTPException(401, "missing bearer token: send 'Authorization: Bearer <api.token>'",
                             headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        return HTTPException(403, "wrong bearer token")
    return None


def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
                  svc: Services = Depends(services)) -> str:
    """Return the actor name recorded in the audit trail, or raise 401/403."""
    refusal = token_refusal(svc.config.api.token, credentials.credentials if credentials else None)
    if refusal is not None:
        raise refusal
    return "api"


def require_token_if_set(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
                         svc: Services = Depends(services)) -> str:
    """For compute endpoints (``/api/predict``): open while no token is configured (a local
    dashboard), guarded by the same bearer token as the writes once one is."""
    if svc.config.api.token is None:
        return "anonymous"
    return require_token(credentials, svc)


#: The dependencies that guard a route; ``candor.api.app`` checks their rule before the body.
GUARDS = {require_token: True, require_token_if_set: False}
