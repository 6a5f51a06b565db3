"""Bad input at the edge of the wired commands: one line, the right exit code, nothing written."""

from __future__ import annotations

import pytest

from candor.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["forecast", "--horizons", "abc"], "forecast.horizons"),
    (["forecast", "--horizons", "5,5"], "distinct positive"),
    (["registry", "list"], "`home` must be a writable directory"),
    (["drift"], "`home` must be a writable directory"),
])
def test_a_home_that_is_a_file_or_bad_flags_are_config_errors(argv, message, tmp_path, monkeypatch, capsys):
    not_a_folder = tmp_path / "home-file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("CANDOR_HOME", str(not_a_folder))
    monkeypatch.delenv("CANDOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 3, err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in out + err
