"""`candor serve`: the dashboard and REST API (FastAPI on uvicorn).

A thin shell: it loads the config, opens the services (a configured operational store must be
reachable and at this candor's schema: one line and exit 1 otherwise, before binding a port; the
embedded default under ``<home>`` gets its schema on first use, so a fresh home serves the empty
dashboard), builds the app with :func:`candor.api.create_app` and runs uvicorn.

``--workers N`` runs N uvicorn worker processes. Uvicorn starts each worker from an import string,
so the worker rebuilds the app with :func:`worker_app` from the same config file and flags,
handed over in ``CANDOR_SERVE_ARGS`` (JSON; secrets such as the API token are not in it — the
workers inherit ``CANDOR_API_TOKEN`` from this process's environment like any other setting).
Each worker keeps its own registry-state cache; an alias move in any process invalidates all of
them through the store's high-water mark (:mod:`candor.registry.state`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from candor.cli.app import app, console

#: How the parent hands the worker processes its config file and flag overrides.
SERVE_ARGS_ENV = "CANDOR_SERVE_ARGS"

#: Seconds a ``--workers`` process may take to answer uvicorn's health check (uvicorn's default 5).
#: Uvicorn pings each worker from the moment it is spawned. A spawned worker first re-imports the
#: launching script (``candor`` → :mod:`candor.cli`, light now that the commands import lazily),
#: and only then starts the thread that answers; the app loads after that, beside the answering
#: thread. When ``import candor.cli`` loaded MLflow and scikit-learn, that first step took over 5 s
#: on a loaded machine and uvicorn killed and respawned every worker forever, printing no error.
#: 30 s leaves a busy machine room and still replaces a hung worker.
WORKER_HEALTHCHECK_S = 30


def _worker_options() -> dict[str, Any]:
    """The worker health-check timeout (uvicorn >= 0.37, the pinned floor)."""
    return {"timeout_worker_healthcheck": WORKER_HEALTHCHECK_S}


def worker_app() -> Any:
    """The app of one ``--workers`` process: the config the parent loaded, rebuilt here (the edge
    of this process), its own services. Uvicorn calls it (``factory=True``)."""
    from candor.api import create_app
    from candor.config import load_config
    from candor.services import open_services

    args = json.loads(os.environ[SERVE_ARGS_ENV])
    config = load_config(Path(args["config"]) if args["config"] else None, overrides=args["overrides"])
    return create_app(open_services(config))


@app.command("serve")
def serve_command(
    host: str = typer.Option(None, "--host", help="Interface to bind (default api.host, 127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Port (default api.port, 8000)."),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="Worker processes (each with its own registry cache; default 1)."),
    config_path: str = typer.Option(None, "--config", help="candor.toml to read (default ./candor.toml)."),
) -> None:
    """Serve the dashboard and the REST API (/api, OpenAPI at /docs); writes need CANDOR_API_TOKEN."""
    # lazy: the web stack, the config and the services load only when serving, so --help and
    # option errors start in < 0.5 s and every other command starts without them
    import uvicorn

    from candor.config import load_config
    from candor.services import open_services

    overrides = {"api": {k: v for k, v in (("host", host), ("port", port)) if v is not None}}
    config = load_config(Path(config_path) if config_path else None, overrides=overrides)
    with open_services(config) as services:  # checked here, before any port or worker: one clear line
        services.ready_tracking()  # MLflow's store: opened now, not raced by the workers
        writes = "enabled (bearer token)" if config.api.token is not None else "disabled (set CANDOR_API_TOKEN)"
        console.print(f"candor dashboard on http://{config.api.host}:{config.api.port}/ — store "
                      f"{services.store.url}; write endpoints {writes}; {workers} worker(s)",
                      markup=False, highlight=False, soft_wrap=True)
        if workers == 1:
            from candor.api import create_app  # only here: with --workers each worker builds its own app

            uvicorn.run(create_app(services), host=config.api.host, port=config.api.port, log_level="info")
            return
    os.environ[SERVE_ARGS_ENV] = json.dumps({"config": config_path, "overrides": overrides})
    uvicorn.run("candor.cli.serve:worker_app", factory=True, workers=workers, host=config.api.host,
                port=config.api.port, log_level="info", **_worker_options())
