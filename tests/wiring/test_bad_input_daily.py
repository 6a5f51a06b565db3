"""Bad input in the daily loop (issue 25): each refusal is one line, exit code as documented, and
``<home>`` as it was (helpers from :mod:`tests.wiring.test_bad_input_corpus`)."""

from __future__ import annotations

from tests.wiring.test_bad_input_corpus import _refused_in_one_line


def test_symbol_over_a_universe_of_several_sources(home, tmp_path, capsys):
    files = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.csv"
        path.write_text("ts,open,high,low,close,volume\n2024-01-02,1,1,1,1,1\n")
        files.append(str(path))
    _refused_in_one_line(["train", "--symbols", ",".join(files), "--symbol", "EURUSD", "--dry-run"], 3,
                         r"`symbol` names one series, and this universe has 2 .*Got 'EURUSD'", home, capsys)


def test_unknown_revision_policy(home, tmp_path, capsys):
    path = tmp_path / "bars.csv"
    path.write_text("ts,open,high,low,close,volume\n2024-01-02,1,1,1,1,1\n")
    for command in (["data", "import", "--data", str(path), "--symbol", "S"],
                    ["data", "fetch", "--provider", "ccxt", "--symbol", "BTC/USDT", "--timeframe", "h1"]):
        _refused_in_one_line([*command, "--revisions", "overwrite"], 3,
                             r"`data.revisions` must be one of refuse, replace, keep. Got 'overwrite'", home, capsys)
