"""`candor serve`: config at the edge, a clear line when the store is not ready, uvicorn last."""

from __future__ import annotations


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


def test_serve_refuses_a_store_without_schema(monkeypatch, tmp_path, capsys):
    import uvicorn

    from candor.cli import main

    monkeypatch.chdir(tmp_path)
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
