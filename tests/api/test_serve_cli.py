"""`candor serve`: config at the edge, a clear line when the store is not ready, uvicorn last."""

from __future__ import annotations

import pytest

from tests.templates import seed_home


def test_serve_builds_the_app_on_the_configured_store(writable_home, monkeypatch, tmp_path):
    import uvicorn
    from fastapi import FastAPI

    from candor.cli import main

    calls = {}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CANDOR_HOME", str(writable_home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    assert main(["serve", "--port", "8765"]) == 0
    assert isinstance(calls["app"], FastAPI) and (calls["host"], calls["port"]) == ("127.0.0.1", 8765)
    assert calls["app"].state.services.config.api.token is None


def test_serve_refuses_a_configured_store_without_schema(monkeypatch, tmp_path, capsys):
    """A configured database must be migrated with `candor db upgrade`; only the embedded default
    under <home> gets its schema on first use (tests/wiring/test_first_run.py)."""
    import uvicorn

    from candor.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CANDOR_DATABASE_URL", f"sqlite:///{tmp_path / 'configured.db'}")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("must not bind")))
    code = main(["serve"])
    assert code != 0
    assert "candor db upgrade" in capsys.readouterr().err


def test_api_token_comes_from_the_environment_and_never_leaks():
    from candor.config import load_config

    config = load_config(environ={"CANDOR_API_TOKEN": "zq-secret-77"})
    assert config.api.token.get_secret_value() == "zq-secret-77"
    assert "api" not in config.model_dump(mode="json") and "zq-secret-77" not in repr(config)
    assert config.config_hash() == load_config(environ={}).config_hash()


def test_serve_workers_start_uvicorn_from_the_factory_with_the_same_config(writable_home, monkeypatch, tmp_path):
    """``--workers 2``: uvicorn gets the import string of ``worker_app`` (it cannot fork an app
    object), and that factory rebuilds the app on the same home with the same flags."""
    import uvicorn
    from fastapi import FastAPI

    from candor.cli import main
    from candor.cli.serve import SERVE_ARGS_ENV, worker_app

    calls = {}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CANDOR_HOME", str(writable_home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(SERVE_ARGS_ENV, raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    assert main(["serve", "--port", "8766", "--workers", "2"]) == 0
    assert calls["app"] == "candor.cli.serve:worker_app" and calls["factory"] is True
    assert (calls["workers"], calls["host"], calls["port"]) == (2, "127.0.0.1", 8766)
    app = worker_app()
    try:
        assert isinstance(app, FastAPI)
        assert app.state.services.config.home == writable_home and app.state.services.config.api.port == 8766
    finally:
        app.state.services.close()


def test_serve_refuses_zero_workers(capsys):
    from candor.cli import main

    assert main(["serve", "--workers", "0"]) != 0
    assert "--workers" in capsys.readouterr().err


def test_serve_workers_get_a_health_check_timeout_that_fits(monkeypatch, tmp_path, tmp_path_factory):
    """Uvicorn pings each worker from the moment it is spawned and kills one that has not answered
    within ``timeout_worker_healthcheck`` (default 5 s); ``--workers`` sets a timeout with room."""
    import inspect

    import uvicorn

    from candor.cli import main
    from candor.cli.serve import SERVE_ARGS_ENV, WORKER_HEALTHCHECK_S

    calls = {}
    monkeypatch.chdir(tmp_path)
    # migrated empty stores (what `candor db upgrade` leaves, copied): the point is the timeout, not the upgrade
    monkeypatch.setenv("CANDOR_HOME", str(seed_home(tmp_path / "home", tmp_path_factory)))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv(SERVE_ARGS_ENV, raising=False)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    assert main(["serve", "--port", "8767", "--workers", "2"]) == 0
    assert "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters  # the pinned uvicorn
    assert calls["timeout_worker_healthcheck"] == WORKER_HEALTHCHECK_S > 5


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, accept: str = "application/json") -> int | None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept}), timeout=10) as answer:
            return answer.status
    except (urllib.error.URLError, OSError):
        return None


@pytest.mark.slow
def test_serve_two_worker_processes_start_and_answer(monkeypatch, tmp_path, tmp_path_factory):
    """``candor serve --workers 2`` as a real process on an empty home: both workers pass uvicorn's
    health check (none is killed and respawned, the way every worker was when ``import candor.cli``
    took 5 s), and the health endpoint and the dashboard answer 200.

    The home holds copies of the migrated empty stores (:mod:`tests.templates`), as after
    ``candor db upgrade`` and a first MLflow read: on a bare home the dashboard's first read built
    MLflow's store (its ~50 migrations, seconds) inside this test; serving a home with no stores at
    all is ``tests/wiring/test_first_run.py``'s case."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from candor.cli.serve import SERVE_ARGS_ENV

    home = seed_home(tmp_path / "home", tmp_path_factory)
    monkeypatch.chdir(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", SERVE_ARGS_ENV)}
    env.update(CANDOR_HOME=str(home), MLFLOW_DISABLE_TELEMETRY="true")
    script = Path(sys.executable).with_name("candor")  # the console script, as a user starts it
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from candor.cli import run; run()"]
    port, log = _free_port(), tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([*command, "serve", "--workers", "2", "--port", str(port)], cwd=tmp_path,
                                  env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and server.poll() is None:
            if log.read_text().count("Application startup complete.") >= 2:
                break
            time.sleep(0.5)
        text = log.read_text()
        assert text.count("Application startup complete.") >= 2, text
        assert _get(f"http://127.0.0.1:{port}/healthz") == 200, log.read_text()
        assert _get(f"http://127.0.0.1:{port}/", accept="text/html") == 200, log.read_text()
        assert " died" not in log.read_text() and server.poll() is None, log.read_text()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the parent and its two workers (one session)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
