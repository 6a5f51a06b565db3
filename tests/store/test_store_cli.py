"""`candor db upgrade | current` and `candor data import` through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import make_url
from store_helpers import sample_bars

from candor.cli import main
from candor.store import connect_store, current_revision, head_revision, load_bars


def _run(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, " ".join(out.split()), " ".join(err.split())


def _csv(tmp_path: Path, bars: pd.DataFrame) -> Path:
    path = tmp_path / "bars.csv"
    bars.rename_axis("date").to_csv(path)
    return path


def test_db_upgrade_then_current(store_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    shown = make_url(store_url).render_as_string(hide_password=True)
    code, out, _ = _run(capsys, "db", "current", "--url", store_url)
    assert code == 0 and f"empty (head {head_revision()}); run: candor db upgrade" in out
    code, out, _ = _run(capsys, "db", "upgrade", "--url", store_url)
    assert code == 0 and f"upgraded empty → {head_revision()}" in out and shown in out
    assert current_revision(store_url) == head_revision()
    code, out, _ = _run(capsys, "db", "upgrade", "--url", store_url)
    assert code == 0 and f"already at head {head_revision()}" in out
    code, out, _ = _run(capsys, "db", "current", "--url", store_url)
    assert code == 0 and f"{head_revision()} (head)" in out


def test_data_import_is_idempotent_and_loads_back(store_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bars = sample_bars(40)
    path = _csv(tmp_path, bars)
    assert _run(capsys, "db", "upgrade", "--url", store_url)[0] == 0
    args = ("data", "import", "--data", str(path), "--symbol", "SPX", "--timeframe", "d1", "--url", store_url)
    code, out, err = _run(capsys, *args)
    assert code == 0, err
    assert "SPX/d1: 40 new bar(s), 0 already there" in out
    code, out, _ = _run(capsys, *args)
    assert code == 0 and "SPX/d1: 0 new bar(s), 40 already there" in out
    with connect_store(store_url) as store:
        loaded = load_bars(store.engine, "SPX", "d1")
    pd.testing.assert_frame_equal(loaded, bars, check_freq=False, rtol=1e-12)
    # the file is read as validate and train read it: daily bars on weekends are a 24/7 market
    assert loaded.attrs["calendar"] == "24/7"


def test_data_import_uses_configured_database_url(store_url: str, tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CANDOR_DATABASE_URL", store_url)
    path = _csv(tmp_path, sample_bars(5, symbol="BTC", calendar="24/7"))
    assert _run(capsys, "db", "upgrade")[0] == 0
    code, out, err = _run(capsys, "data", "import", "--data", str(path), "--symbol", "BTC",
                          "--timeframe", "d1", "--calendar", "24/7")
    assert code == 0, err
    assert "BTC/d1: 5 new bar(s)" in out
    with connect_store(store_url) as store:
        assert load_bars(store.engine, "BTC", "d1").attrs["calendar"] == "24/7"


def test_data_import_into_unmigrated_database_says_upgrade(store_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = _csv(tmp_path, sample_bars(5))
    code, _, err = _run(capsys, "data", "import", "--data", str(path), "--symbol", "SPX",
                        "--timeframe", "d1", "--url", store_url)
    assert code == 1 and "has no candor schema; run: candor db upgrade" in err
    assert current_revision(store_url) is None


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["--timeframe", "d2"], 3, "`timeframe` must be one of"),
    (["--data", "missing.csv"], 1, "no such file"),
])
def test_data_import_bad_input(store_url: str, tmp_path: Path, capsys, argv, code, message) -> None:  # type: ignore[no-untyped-def]
    base = {"--data": str(_csv(tmp_path, sample_bars(5))), "--symbol": "SPX", "--timeframe": "d1", "--url": store_url}
    base.update(dict(zip(argv[::2], argv[1::2])))
    assert _run(capsys, "db", "upgrade", "--url", store_url)[0] == 0
    got, _, err = _run(capsys, "data", "import", *[x for kv in base.items() for x in kv])
    assert got == code and message in err


def test_invalid_bars_file_writes_nothing(store_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bars = sample_bars(10)
    bars.iloc[4, bars.columns.get_loc("high")] = 1.0  # high below open/close
    path = _csv(tmp_path, bars)
    assert _run(capsys, "db", "upgrade", "--url", store_url)[0] == 0
    code, _, err = _run(capsys, "data", "import", "--data", str(path), "--symbol", "SPX",
                        "--timeframe", "d1", "--url", store_url)
    assert code == 1 and "bars fail rule" in err
    from candor.store import list_series
    with connect_store(store_url) as store:
        assert list_series(store.engine) == []


def test_every_store_command_has_help(capsys) -> None:  # type: ignore[no-untyped-def]
    for argv in (["db", "upgrade"], ["db", "current"], ["data", "import"]):
        code, out, _ = _run(capsys, *argv, "--help")
        assert code == 0 and "--url" in out
