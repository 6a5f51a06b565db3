"""The daily loop's data commands (issue 25 item 1): a revised bar is refused in one line naming it,
or replaced, or kept (``--revisions`` / ``data.revisions``), for a file import and a fetch alike;
``data import`` infers the timeframe; ``data list`` shows each stored series' first and newest bar."""

from __future__ import annotations

import pytest

from candor.application.ingest import store_bars
from candor.cli import main
from candor.data.synthetic import random_walk
from candor.errors import DataError
from candor.store import connect_store, load_bars, upgrade


def _files(tmp_path):
    """30 daily bars, and the same bars with two closes corrected ×1.05 and five new bars."""
    bars = random_walk(35, seed=1, timeframe="d1")
    first = bars.iloc[:30]
    first.to_csv(tmp_path / "first.csv")
    revised = bars.copy()
    revised.iloc[[5, 6], revised.columns.get_loc("close")] *= 1.05
    revised["high"] = revised[["high", "close"]].max(axis=1)
    revised.to_csv(tmp_path / "revised.csv")
    return str(tmp_path / "first.csv"), str(tmp_path / "revised.csv"), revised


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_revisions_refuse_replace_keep_and_data_list(candor_home, tmp_path, capsys):
    first, revised_file, revised = _files(tmp_path)
    code, out, _ = _run(capsys, "data", "list")
    assert code == 0 and "no bars stored yet" in out and not (candor_home / "candor.db").exists()
    code, out, err = _run(capsys, "data", "import", "--data", first, "--symbol", "RW")  # no --timeframe
    assert code == 0, err
    assert "RW/d1 (timeframe inferred from the bar spacing): 30 new bar(s), 0 already there" in out
    code, out, err = _run(capsys, "data", "import", "--data", revised_file, "--symbol", "RW")
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1 and len(lines) == 1, err
    assert "RW/d1: 2 imported bar(s) differ from the stored ones: 2010-01-06 00:00:00+00:00 (close " in lines[0]
    assert "2010-01-07" in lines[0] and "--revisions replace" in lines[0]
    engine_url = f"sqlite:///{candor_home / 'candor.db'}"
    with connect_store(engine_url) as store:
        assert len(load_bars(store.engine, "RW", "d1")) == 30  # refused: not even the 5 new bars

    code, out, _ = _run(capsys, "data", "import", "--data", revised_file, "--symbol", "RW", "--revisions", "keep")
    assert code == 0 and "5 new bar(s), 30 already there, 2 revised bar(s) kept as stored" in out
    with connect_store(engine_url) as store:
        kept = load_bars(store.engine, "RW", "d1")
    assert kept["close"].iloc[5] == pytest.approx(revised["close"].iloc[5] / 1.05)

    code, out, _ = _run(capsys, "data", "import", "--data", revised_file, "--symbol", "RW", "--revisions", "replace")
    assert code == 0 and "0 new bar(s), 35 already there, 2 revised bar(s) replaced" in out
    with connect_store(engine_url) as store:
        replaced = load_bars(store.engine, "RW", "d1")
    assert replaced["close"].to_numpy() == pytest.approx(revised["close"].to_numpy())

    code, out, _ = _run(capsys, "data", "list")
    assert code == 0 and "RW/d1" in out and "35" in out
    assert "2010-01-01 00:00:00+00:00" in out and "2010-02-04 00:00:00+00:00" in out


def test_configured_revision_policy_applies_to_import(candor_home, tmp_path, capsys, monkeypatch):
    first, revised_file, _ = _files(tmp_path)
    (tmp_path / "candor.toml").write_text('[data]\nrevisions = "keep"\n')
    monkeypatch.chdir(tmp_path)
    assert _run(capsys, "data", "import", "--data", first, "--symbol", "RW", "--timeframe", "d1")[0] == 0
    code, out, _ = _run(capsys, "data", "import", "--data", revised_file, "--symbol", "RW")
    assert code == 0 and "2 revised bar(s) kept as stored" in out


def test_fetched_revisions_replace_and_keep(tmp_path):
    url = f"sqlite:///{tmp_path / 'bars.db'}"
    upgrade(url)
    bars = random_walk(48, seed=4, timeframe="h1", symbol="BTC-USDT")
    corrected = bars.copy()
    corrected.iloc[10, corrected.columns.get_loc("close")] *= 1.05
    corrected["high"] = corrected[["high", "close"]].max(axis=1)
    with connect_store(url) as store:
        store_bars(store.engine, bars)
        with pytest.raises(DataError, match=r"BTC-USDT/h1: 1 fetched bar\(s\) differ from the stored ones: "
                                            r"2010-01-01 10:00:00\+00:00 \(close [\d.]+ stored, [\d.]+ fetched\)"):
            store_bars(store.engine, corrected)
        kept = store_bars(store.engine, corrected, revisions="keep")
        assert (kept.added, kept.revised) == (0, 1)
        assert load_bars(store.engine, "BTC-USDT", "h1")["close"].iloc[10] == pytest.approx(bars["close"].iloc[10])
        replaced = store_bars(store.engine, corrected, revisions="replace")
        assert (replaced.added, replaced.revised, replaced.already_stored) == (0, 1, 48)
        stored = load_bars(store.engine, "BTC-USDT", "h1")
    assert stored["close"].to_numpy() == pytest.approx(corrected["close"].to_numpy())


def test_several_files_in_one_import_are_all_validated_before_anything_is_stored(candor_home, tmp_path, capsys):
    """One process for a daily import of many series: pairs of --data/--symbol in order; a bad
    file, or a count that does not pair up, writes nothing."""
    for k, name in enumerate(("AA", "BB")):
        random_walk(30, seed=k, timeframe="d1").to_csv(tmp_path / f"{name}.csv")
    (tmp_path / "bad.csv").write_text("Date,Open,High,Low,Close,Volume\n")
    code, _, err = _run(capsys, "data", "import", "--data", str(tmp_path / "AA.csv"), "--data", str(tmp_path / "BB.csv"),
                        "--symbol", "AA")
    assert code == 3 and "one --symbol per --data" in err and not candor_home.joinpath("candor.db").exists()
    code, _, err = _run(capsys, "data", "import", "--data", str(tmp_path / "AA.csv"), "--symbol", "AA",
                        "--data", str(tmp_path / "bad.csv"), "--symbol", "CC")
    assert code == 1 and "no bars" in err and not candor_home.joinpath("candor.db").exists()
    code, out, err = _run(capsys, "data", "import", "--data", str(tmp_path / "AA.csv"), "--symbol", "AA",
                          "--data", str(tmp_path / "BB.csv"), "--symbol", "BB", "--timeframe", "d1")
    assert code == 0, err
    assert "AA/d1: 30 new bar(s)" in out and "BB/d1: 30 new bar(s)" in out
    store = connect_store(f"sqlite:///{candor_home / 'candor.db'}")
    try:
        assert len(load_bars(store.engine, "AA", "d1")) == len(load_bars(store.engine, "BB", "d1")) == 30
    finally:
        store.close()
