"""`candor registry …` through the CLI entry point: output, one-line errors, exit codes."""

from __future__ import annotations

import pytest
from registry_helpers import cli_stores, log_run, make_artifact, report

from candor.cli import main
from candor.store import alias_events


@pytest.fixture
def cli_home(tmp_path, store_templates, monkeypatch):
    """A CANDOR_HOME whose default MLflow and store databases hold two validated and one failed version."""
    home = tmp_path / "home"
    registry, engine, holder = cli_stores(home, store_templates, monkeypatch)
    for i, rep in enumerate((report(), report(), report(0.5)), start=1):
        artifact = make_artifact(tmp_path / f"v{i}", rep=rep)
        version = registry.register(log_run(holder, artifact), artifact)
        registry.validate(version.name, version.version)
    yield home, engine
    engine.dispose()


def test_registry_commands_and_audit(cli_home, capsys, monkeypatch):
    from candor.cli.app import console

    monkeypatch.setattr(console, "width", 200)  # tables unwrapped, so cells can be asserted
    home, engine = cli_home
    assert main(["registry", "promote", "SPX/d1", "1", "--reason", "first"]) == 0
    assert main(["registry", "promote", "candor.SPX.d1", "2"]) == 0
    assert "version 2 is now champion (previous champion: 1)" in capsys.readouterr().out
    assert main(["registry", "rollback", "candor.SPX.d1", "--reason", "drift"]) == 0
    assert main(["registry", "list"]) == 0
    out = capsys.readouterr().out
    assert "rolled back to version 1" in out and "candor.SPX.d1" in out
    assert main(["registry", "history", "candor.SPX.d1"]) == 0
    history = capsys.readouterr().out
    assert "validated" in history and "champion" in history and "65.0%" in history
    assert main(["registry", "compare", "candor.SPX.d1", "2"]) == 0
    assert ("challenger 2 65.0% vs champion 1 65.0% — not tested: stored accuracy not lower"
            in capsys.readouterr().out)
    assert main(["registry", "archive", "candor.SPX.d1", "3"]) == 0
    assert main(["registry", "reconcile", "candor.SPX.d1"]) == 0
    assert "agree" in capsys.readouterr().out
    moves = [(e.alias, e.from_version, e.to_version, e.action, e.reason) for e in alias_events(engine, "candor.SPX.d1")]
    assert moves[-2:] == [("previous", "1", "2", "rollback", "drift"), ("champion", "2", "1", "rollback", "drift")]


@pytest.mark.parametrize(("argv", "message"), [
    (["registry", "promote", "candor.SPX.d1", "3"], "is failed"),
    (["registry", "promote", "candor.SPX.d1", "7"], "unknown version 7 of candor.SPX.d1"),
    (["registry", "history", "candor.XYZ.d1"], "unknown model 'candor.XYZ.d1'"),
    (["registry", "delete", "candor.SPX.d1", "champion"], "has no alias 'champion'"),
    (["registry", "rollback", "candor.SPX.d1"], "has no champion to roll back"),
])
def test_registry_errors_are_one_line_exit_1(cli_home, capsys, argv, message):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_delete_champion_refused_and_force_promote(cli_home, capsys):
    assert main(["registry", "promote", "candor.SPX.d1", "3", "--force", "--reason", "hotfix"]) == 0
    assert main(["registry", "delete", "candor.SPX.d1", "3"]) == 1
    assert "version 3 is the champion of candor.SPX.d1; refusing to delete it" in capsys.readouterr().err
