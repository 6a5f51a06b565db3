"""A new user's first minutes: ``candor serve`` on a fresh home serves the empty dashboard (the
embedded SQLite store gets its schema on first use), and the commands its hint names really give
that home a champion."""

from __future__ import annotations

import os
import shlex

from fastapi.testclient import TestClient

from candor.cli import main

#: The smallest training the hinted command can run (read from ./candor.toml, as a user's would be):
#: one fast member, three folds, no permutation importance, a short bootstrap, short feature windows.
CHEAP_TOML = """\
[models]
models = ["logreg"]
[split]
folds = 3
[evaluation]
importance_repeats = 0
n_boot = 100
[features]
medium = 30
long = 60
"""


def _serve_app(monkeypatch):
    """``candor serve`` up to the point where uvicorn would bind: the app it built."""
    import uvicorn

    calls = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    assert main(["serve"]) == 0
    return calls["app"]


def test_serve_on_a_fresh_home_shows_the_first_step(home, monkeypatch):
    from candor.api.routes_pages import FIRST_STEP
    from candor.registry.common import FIRST_CHAMPION_STEPS

    assert not home.exists()
    app = _serve_app(monkeypatch)
    try:
        with TestClient(app) as client:
            page = client.get("/", headers={"accept": "text/html"})
            assert client.get("/api/models").json() == []
    finally:
        app.state.services.close()
    assert page.status_code == 200, page.text
    assert 'id="first-step"' in page.text and "Nothing trained yet" in page.text
    assert FIRST_STEP == "\n".join(FIRST_CHAMPION_STEPS)
    for step in FIRST_CHAMPION_STEPS:  # shown as written (HTML-escaped quotes aside)
        assert step.replace('"', "&#34;") in page.text or step.replace('"', "&quot;") in page.text
    assert "--force" in page.text and "forced promotion" in page.text  # and why it is forced
    assert (home / "candor.db").is_file()  # the embedded store was created on first use


def test_a_configured_database_still_needs_db_upgrade(home, tmp_path, monkeypatch, capsys):
    """Only the embedded default creates its schema: a configured database is someone's server."""
    import uvicorn

    monkeypatch.setenv("CANDOR_DATABASE_URL", f"sqlite:///{tmp_path / 'shared.db'}")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("must not bind")))
    assert main(["serve"]) == 1
    assert "has no candor schema; run: candor db upgrade" in capsys.readouterr().err
    assert not home.exists()


def test_the_first_step_makes_a_champion(home, tmp_path, monkeypatch, capsys):
    """Run the hinted commands as written, on a fresh home; afterwards the home has one champion
    and the dashboard shows it instead of the hint."""
    from candor.registry.common import FIRST_CHAMPION_STEPS

    (tmp_path / "candor.toml").write_text(CHEAP_TOML)  # the cwd: the config every command reads
    monkeypatch.setattr(os, "cpu_count", lambda: 1)  # `candor train` runs one fold process per core
    codes = []
    for step in FIRST_CHAMPION_STEPS:
        argv = shlex.split(step)
        assert argv[0] == "candor"
        codes.append(main(argv[1:]))
    out, err = capsys.readouterr()
    assert codes[0] in (0, 2), err  # 2: the gates refused the version, as they usually do here
    assert codes[1] == 0, err
    assert "version 1 is now champion" in out

    app = _serve_app(monkeypatch)
    try:
        models = app.state.services.registry.list_models()
        with TestClient(app) as client:
            page = client.get("/", headers={"accept": "text/html"})
    finally:
        app.state.services.close()
    assert [(m.name, m.champion) for m in models] == [("candor.SPX.d1", "1")]
    assert page.status_code == 200 and 'id="first-step"' not in page.text and "SPX" in page.text


def test_a_reader_on_a_fresh_home_creates_the_embedded_store_and_succeeds(home, capsys):
    """A valid command on a fresh home is the first use: no "run: candor db upgrade" refusal, and
    the hint it prints is the same first step."""
    from candor.registry.common import FIRST_CHAMPION_STEPS

    assert main(["registry", "list"]) == 0, capsys.readouterr().err
    out, err = capsys.readouterr()
    assert (home / "candor.db").is_file() and "candor db upgrade" not in err
    assert all(step in out for step in FIRST_CHAMPION_STEPS), out


def test_db_current_on_a_fresh_home_says_so_and_creates_nothing(home, capsys):
    """A command that only reads leaves a fresh home as it was: no folder, no empty candor.db."""
    from tests.wiring.homes import snapshot

    before = snapshot(home)
    assert main(["db", "current"]) == 0
    assert "empty (head" in capsys.readouterr().out
    assert snapshot(home) == before
