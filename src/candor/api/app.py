"""``create_app``: wire the store, the registry and the routes into one FastAPI application.

Why a factory: ``candor serve`` opens the services from the config at the edge; tests open them
on a scratch store. Nothing is read from the environment here.
"""

from __future__ import annotations

import datetime as dt
import gc
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from candor import __version__
from candor.api import routes_pages, routes_read, routes_write
from candor.api.auth import GUARDS, bearer_token, token_refusal
from candor.services import Services
from candor.errors import (
    CandorError, DataError, InvalidNameError, ModelError, NotFoundError, RegistryError, StoreError,
)

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"


#: plotly.js 3.7.0 (MIT licence, header kept in the file), shipped with candor: the pages never reach
#: for a CDN, and the server needs no plotly Python package to serve one JavaScript file.
PLOTLY_JS = STATIC_DIR / "plotly.min.js"


def plotly_js() -> Path:
    if not PLOTLY_JS.is_file():
        raise StoreError(f"plotly.min.js is missing from candor's static files at {PLOTLY_JS}; reinstall candor.")
    return PLOTLY_JS


def _templates() -> Jinja2Templates:
    from candor.api import filters

    templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
    templates.env.filters.update(filters.FILTERS)
    templates.env.globals.update(filters.GLOBALS, version=__version__)
    return templates


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api", "/docs", "/openapi")) and \
        "text/html" in request.headers.get("accept", "")


#: An absolute path, bare or as a ``file:`` / ``sqlite:`` URI; group 1 is its last part.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/>])(?:(?:file|sqlite):/+|/)(?:[^\s'\"(),;<>/]+/)*([^\s'\"(),;<>/]+)")


def public_message(message: str, home: Path | None) -> str:
    """``message`` without the server's absolute paths: ``<home>/…`` for a path under candor's
    home, ``…/<last part>`` for any other. The library's errors name paths in full (a CLI user
    needs them); a web client must not learn the server's layout."""
    if home is not None:
        for root in sorted({str(home), str(Path(home).resolve())}, key=len, reverse=True):
            message = re.sub(re.escape(root.rstrip("/")) + r"(?![\w-])", "<home>", message)
    return _ABSOLUTE_PATH.sub(lambda m: f"…/{m.group(1)}", message)


def _error_page(request: Request, status: int, message: str) -> Response:
    services = getattr(request.app.state, "services", None)
    message = public_message(message, getattr(getattr(services, "config", None), "home", None))
    if _wants_html(request):
        return request.app.state.templates.TemplateResponse(
            request, "error.html", {"status": status, "message": message, "now": dt.datetime.now(dt.UTC)},
            status_code=status)
    return JSONResponse({"detail": message}, status_code=status)


def _describe(errors: list[Any]) -> str:
    """``bars[3].close: Field required`` — the field path a client must fix, in one line."""
    parts = []
    for error in errors[:5]:
        loc = [p for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


class _BodyTooLarge(StarletteHTTPException):
    """Raised by the counting ``receive`` once a body passes the limit; FastAPI re-raises an
    HTTPException from a body read, so candor's handler renders the 413."""


class _LimitBody:
    """413 before an oversized body is held in memory: a 33 MB post used to cost 112 MB of RAM.
    ``api.max_body_mb`` (default 2; a full /api/predict of 5,000 bars is about 0.8 MB).

    Two checks. A declared ``Content-Length`` over the limit is refused before a byte is read.
    And the bytes actually received are counted, on every route, whatever the headers say: a
    request with ``Content-Length: 10`` and ``Transfer-Encoding: chunked`` used to pass the first
    check and stream 200 MB into the parser. The counting ``receive`` raises a 413 once the
    running count passes the limit, so at most one chunk beyond it is ever read.

    A plain ASGI middleware, not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware``
    runs every request — reads included — through an extra task and memory streams, about a
    millisecond of the event loop per request under load; this one adds one closure per request."""

    def __init__(self, app: Any, max_mb: float) -> None:
        self.app, self.max_mb, self.limit = app, max_mb, int(max_mb * 1024 * 1024)

    def _too_large(self) -> _BodyTooLarge:
        return _BodyTooLarge(413, f"request body over {self.max_mb:g} MB (api.max_body_mb); send fewer bars "
                                  "(the features need a few hundred)")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await _refuse(scope, receive, send, self._too_large())
        if declared is None and scope["method"] in ("POST", "PUT", "PATCH"):
            return await JSONResponse({"detail": "send a Content-Length header (chunked bodies are refused)"},
                                      status_code=411)(scope, receive, send)
        received, started = 0, False

        async def counted() -> Any:
            nonlocal received
            if received > self.limit:  # a reader that goes on after the 413 gets no more bytes
                raise self._too_large()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise self._too_large()
            return message

        async def sending(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except _BodyTooLarge as exc:  # read outside a route's handlers (they render it themselves)
            if started:
                raise
            await _refuse(scope, receive, send, exc)


class _GuardWrites:
    """401/403 before a token-guarded route reads its body (:data:`candor.api.auth.GUARDS`).

    FastAPI reads and parses a body before it solves the route's dependencies, so the token
    dependency alone let an anonymous client make the server parse megabytes. Here each route that
    depends on a guard is known from the start; a request it matches (only methods that carry a
    body are looked at; reads pass untouched) gets the guard's rule on its headers first."""

    def __init__(self, app: Any, routes: list[Any], token: Any) -> None:
        self.app, self.token = app, token
        self.guarded = [(route, required) for route in routes if (required := _guard(route)) is not None]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            required = next((req for route, req in self.guarded if route.matches(scope)[0] is Match.FULL), None)
            if required is not None:
                token = bearer_token(Headers(scope=scope).get("authorization"))
                refusal = token_refusal(self.token, token, required=required)
                if refusal is not None:
                    return await _refuse(scope, receive, send, refusal)
        await self.app(scope, receive, send)


def _guard(route: Any) -> bool | None:
    """True (token required), False (required once one is set) or None: the guard among the
    dependencies of ``route``, at any depth."""
    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is not None:
            if dependant.call in GUARDS:
                return GUARDS[dependant.call]
            stack.extend(dependant.dependencies)
    return None


async def _refuse(scope: Any, receive: Any, send: Any, exc: StarletteHTTPException) -> None:
    """``exc`` rendered as the app's handlers render it (JSON, or the error page for a browser)."""
    response = _error_page(Request(scope, receive), exc.status_code, str(exc.detail))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    await response(scope, receive, send)


#: Sync endpoints running at once per process (anyio's default is 40). Their work is mostly Python
#: under one GIL: 20 requests at once on 40 threads all advance together and all finish late
#: (20 connections at 50 series: p99 230-270 ms); 4 at a time, the others queued on the event loop,
#: finish in turn (p99 120-130 ms, more requests a second). Slow clients hold no thread — the
#: event loop reads requests and writes answers; an MLflow rebuild holds one (the others serve).
THREADS = 4


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Once the app is up: move everything loaded so far (MLflow, SQLAlchemy, sklearn, pandas —
    about 460,000 objects) out of the garbage collector's sight. A full collection walked all of
    them, ~190 ms with every request waiting on the GIL: the max-latency stall of the sequential
    benchmark. Frozen objects are never collected, which is what long-lived module state wants.
    And the threadpool gets :data:`THREADS` tokens."""
    await anyio.to_thread.run_sync(_warm, app)
    gc.collect()
    gc.freeze()
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
    yield


def _warm(app: FastAPI) -> None:
    """Before the first request: the registry snapshot, the overview and the compiled templates
    (a fresh ``--workers`` process answered its first /api/models in ~100 ms at 50 series, its
    first model page in ~50 ms). A failure here is the first request's to report, not startup's."""
    from candor.api import queries

    services = app.state.services
    try:
        queries.series_states(services.engine, services.registry)
        for template in TEMPLATE_DIR.glob("*.html"):
            app.state.templates.env.get_template(template.name)
    except Exception:  # noqa: BLE001 - only a warm-up; the request path raises the same error properly
        pass


#: The one map from candor's exception classes to HTTP statuses. The class decides, never the
#: message: the most specific class along the exception's MRO wins (a subclass before its base).
STATUS_BY_ERROR: dict[type[CandorError], int] = {
    NotFoundError: 404,  # unknown model, version or alias; no champion
    InvalidNameError: 422,  # a model name or version reference no candor model can have
    RegistryError: 409,  # a move the lifecycle refuses (not validated, already champion, ...)
    DataError: 422,  # the request's bars
    ModelError: 422,
    StoreError: 503,  # the database or tracking server cannot be used
    CandorError: 400,
}


def error_status(exc: CandorError) -> int:
    """The HTTP status of a candor error, from its class (:data:`STATUS_BY_ERROR`)."""
    return next(STATUS_BY_ERROR[cls] for cls in type(exc).__mro__ if cls in STATUS_BY_ERROR)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        message = _describe(list(exc.errors()))
        if _wants_html(request):
            return _error_page(request, 422, message)
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return JSONResponse({"detail": errors, "message": message}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        response = _error_page(request, exc.status_code, str(exc.detail))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(CandorError)
    async def _candor(request: Request, exc: CandorError) -> Response:
        return _error_page(request, error_status(exc), str(exc))


def create_app(services: Services) -> FastAPI:
    """The candor web app over ``services`` (:func:`candor.services.open_services`): its store,
    its registry and the registry's one champion loader."""
    plotly_path = plotly_js()
    app = FastAPI(title="candor", version=__version__, docs_url="/docs", redoc_url=None, lifespan=_lifespan,
                  description="Direction models: champions, their evidence beside baselines, forecasts, drift.")
    app.state.services = services
    app.state.templates = _templates()
    _install_handlers(app)
    # Added last runs first: the body limit sees every request, then the token guard, then the router.
    routes = [*routes_read.router.routes, *routes_write.router.routes, *routes_pages.router.routes]
    app.add_middleware(_GuardWrites, routes=routes, token=services.config.api.token)
    app.add_middleware(_LimitBody, max_mb=services.config.api.max_body_mb)

    @app.get("/assets/plotly.min.js", include_in_schema=False)
    def _plotly() -> FileResponse:
        return FileResponse(plotly_path, media_type="application/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/healthz", include_in_schema=False)
    def _health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(routes_read.router)
    app.include_router(routes_write.router)
    app.include_router(routes_pages.router)
    return app


__all__ = ["create_app", "HTMLResponse"]
