"""`candor ledger` refuses bad input in one line, exit code and nothing written (the corpus's rules:
tests/wiring/test_bad_input_corpus.py): a target that is no series, a date that is no date, and a
ledger written by a newer candor. Reading a fresh home's (absent) ledger creates nothing."""

from __future__ import annotations

import sqlite3

import pytest

from candor.cli import main
from tests.wiring.homes import snapshot
from tests.wiring.test_bad_input_corpus import _refused_in_one_line

OPTION_CASES = [
    (["ledger", "--target", "../x"], 3, r"`--target` '\.\./x': `symbol` must be"),
    (["ledger", "--target", "SPX/d9"], 3, r"`--target` 'SPX/d9': `timeframe` must be one of"),
    (["ledger", "--target", "SPX/d1/hx"], 3, r"`--target` horizon must be hN"),
    (["ledger", "--target", "SPX//h5"], 3, r"`--target` must be SYMBOL, SYMBOL/TF or SYMBOL/TF/hN"),
    (["ledger", "--since", "notadate"], 3, r"`--since` must be a date, YYYY-MM-DD"),
    (["ledger", "--since", "2026-02-30"], 3, r"`--since` must be a date"),
]


@pytest.mark.parametrize(("argv", "code", "pattern"), OPTION_CASES, ids=[" ".join(c[0]) for c in OPTION_CASES])
def test_bad_ledger_options(argv, code, pattern, migrated_home, capsys):
    _refused_in_one_line(argv, code, pattern, migrated_home, capsys)


def test_a_ledger_from_a_newer_schema_is_refused(migrated_home, capsys):
    with sqlite3.connect(migrated_home / "candor.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    _refused_in_one_line(["ledger", "--target", "SPX/d1/h5"], 1,
                         r"schema is at revision 9999_from_the_future, newer than this candor .*upgrade candor",
                         migrated_home, capsys)


def test_reading_a_fresh_homes_ledger_creates_nothing(home, capsys):
    assert main(["ledger"]) == 0
    assert "no trials recorded" in capsys.readouterr().out
    assert snapshot(home) is None
