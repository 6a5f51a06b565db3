"""`candor serve`: the dashboard and REST API (FastAPI on uvicorn).

A thin shell: it reads the config and ``MLFLOW_TRACKING_URI`` at the edge, checks that the
operational store is reachable and at this candor's schema (one line and exit 1 otherwise, before
binding a port), builds the app with :func:`candor.api.create_app` and runs uvicorn.
"""

from __future__ import annotations

import os

import typer

from candor.cli.app import app, console


@app.command("serve")
def serve_command(
    host: str = typer.Option(None, "--host", help="Interface to bind (default api.host, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Port (default api.port, 8000)."),
    config_path: str = typer.Option(None, "--config", help="candor.toml to read (default ./candor.toml)."),
) -> None:
    """Serve the dashboard and the REST API (/api, OpenAPI at /docs); writes need CANDOR_API_TOKEN."""
    from pathlib import Path

    import uvicorn

    from candor.api import create_app
    from candor.config import load_config
    from candor.registry import Registry
    from candor.store import connect_store
    from candor.store.engine import resolve_database_url
    from candor.registry.tracking import tracking_uri

    overrides = {"api": {k: v for k, v in (("host", host), ("port", port)) if v is not None}}
    config = load_config(Path(config_path) if config_path else None, overrides=overrides)
    store = connect_store(resolve_database_url(config.database_url, home=config.home, environ={}))
    registry = Registry(tracking_uri(config.home, os.environ.get("MLFLOW_TRACKING_URI")), store.engine)
    web = create_app(config, engine=store.engine, registry=registry)
    writes = "enabled (bearer token)" if config.api.token is not None else "disabled (set CANDOR_API_TOKEN)"
    console.print(f"candor dashboard on http://{config.api.host}:{config.api.port}/ — store {store.url}; "
                  f"write endpoints {writes}", markup=False, highlight=False, soft_wrap=True)
    try:
        uvicorn.run(web, host=config.api.host, port=config.api.port, log_level="info")
    finally:
        store.close()
