"""URL resolution, unreachable databases (message without password), JSON encoding."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from candor.errors import ConfigError, StoreError
from candor.store import connect_store, current_revision, upgrade
from candor.store.engine import dumps_json, safe_url

UNREACHABLE = [
    ("postgresql+psycopg://candor:s3cr3t-pw@127.0.0.1:1/prod",
     r"^cannot connect to postgresql\+psycopg://candor:\*\*\*@127\.0\.0\.1:1/prod: connection refused$"),
    ("postgresql://candor:s3cr3t-pw@127.0.0.1:1/prod",  # plain scheme means psycopg 3
     r"^cannot connect to postgresql\+psycopg://candor:\*\*\*@127\.0\.0\.1:1/prod: connection refused$"),
    ("sqlite:////nonexistent-candor-dir/s3cr3t-pw/x.db",
     r"^cannot connect to sqlite:////nonexistent-candor-dir/.*: unable to open database file$"),
]


@pytest.mark.parametrize(("url", "message"), UNREACHABLE)
@pytest.mark.parametrize("call", [upgrade, current_revision, connect_store])
def test_unreachable_database_is_one_line_without_password(url: str, message: str, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StoreError, match=message) as caught:
        call(url)
    text = str(caught.value)
    assert "\n" not in text
    if url.startswith("postgres"):
        assert "s3cr3t-pw" not in text


def test_unreachable_database_through_cli_exits_1(capsys) -> None:  # type: ignore[no-untyped-def]
    from candor.cli import main

    code = main(["db", "upgrade", "--url", "postgresql+psycopg://candor:s3cr3t-pw@127.0.0.1:1/prod"])
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot connect to postgresql+psycopg://candor:***@127.0.0.1:1/prod" in err
    assert "s3cr3t-pw" not in err and "Traceback" not in err


@pytest.mark.parametrize("url", ["not a url", "mysql://u:pw@127.0.0.1:1/db"])
def test_unusable_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"database url"):
        upgrade(url)


def test_url_resolution_order(tmp_path: Path) -> None:
    from candor.config import load_config

    home = tmp_path / "fresh-home"
    env = {"CANDOR_HOME": str(home)}
    assert load_config(environ=env).store_url == f"sqlite:///{home / 'candor.db'}"
    env["CANDOR_DATABASE_URL"] = "postgresql+psycopg://u@db/x"
    assert load_config(environ=env).store_url == "postgresql+psycopg://u@db/x"
    flagged = load_config(environ=env, overrides={"database_url": "sqlite:///explicit.db"})
    assert flagged.store_url == "sqlite:///explicit.db"
    assert load_config(environ={}, overrides={"home": str(tmp_path / "h2")}).store_url == \
        f"sqlite:///{tmp_path / 'h2' / 'candor.db'}"


def test_safe_url_hides_password() -> None:
    assert safe_url("postgresql+psycopg://u:pw@h:5432/d") == "postgresql+psycopg://u:***@h:5432/d"


def test_json_encoding_handles_numpy_and_nan() -> None:
    text = dumps_json({"w": np.array([0.5, np.nan]), "n": np.int64(3), "x": math.inf})
    assert text == '{"w": [0.5, null], "n": 3, "x": null}'
