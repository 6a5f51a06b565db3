"""`candor serve`: the dashboard and REST API (FastAPI on uvicorn).

A thin shell: it loads the config, opens the services (the operational store must be reachable
and at this candor's schema: one line and exit 1 otherwise, before binding a port), builds the
app with :func:`candor.api.create_app` and runs uvicorn.
"""

from __future__ import annotations

from pathlib import Path

import typer

from candor.cli.app import app, console
from candor.config import load_config
from candor.services import open_services


@app.command("serve")
def serve_command(
    host: str = typer.Option(None, "--host", help="Interface to bind (default api.host, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Port (default api.port, 8000)."),
    config_path: str = typer.Option(None, "--config", help="candor.toml to read (default ./candor.toml)."),
) -> None:
    """Serve the dashboard and the REST API (/api, OpenAPI at /docs); writes need CANDOR_API_TOKEN."""
    # The web stack loads only when serving: every other command starts faster without it.
    import uvicorn

    from candor.api import create_app

    overrides = {"api": {k: v for k, v in (("host", host), ("port", port)) if v is not None}}
    config = load_config(Path(config_path) if config_path else None, overrides=overrides)
    with open_services(config) as services:
        web = create_app(services)
        writes = "enabled (bearer token)" if config.api.token is not None else "disabled (set CANDOR_API_TOKEN)"
        console.print(f"candor dashboard on http://{config.api.host}:{config.api.port}/ — store "
                      f"{services.store.url}; write endpoints {writes}", markup=False, highlight=False, soft_wrap=True)
        uvicorn.run(web, host=config.api.host, port=config.api.port, log_level="info")
