"""The paper ledger's booked days (issue 24, migration 0006): the drift job's booking is idempotent
per series × day; a forecast resolved out of order is one line and nothing written; the ledger
(what `candor paper` and the dashboard read) carries the booked days and that line; `candor paper
--rebuild` re-books."""

from __future__ import annotations

import pytest

from candor.cli import main
from candor.errors import DataError
from candor.ops.paper import book_ledger, paper_ledger
from candor.store import forecasts, resolve_forecasts
from candor.store.forecasts import Resolution
from candor.store.paper import booked_days
from tests.ops.test_paper import FREE, LONG_THEN_ABSTAIN, _store


def test_booking_is_idempotent_and_out_of_order_is_refused(tmp_path, monkeypatch, capsys):
    url, engine = _store(tmp_path, [])
    from candor.store import upsert_forecasts
    from tests.ops.test_paper import _row

    upsert_forecasts(engine, [_row(i, d) for i, d in enumerate(LONG_THEN_ABSTAIN)])
    rows = forecasts(engine, "SYN", "d1")
    resolve_forecasts(engine, [Resolution(r.id, "BULLISH") for r in rows if r.bar_ts.day != 2])  # bar 1 late
    # bar 1 without a resolved forecast is a flat day, booked as such
    assert book_ledger(engine, "SYN", "d1", config=FREE) == 5 and book_ledger(engine, "SYN", "d1", config=FREE) == 0
    [ledger] = paper_ledger(engine, "SYN", "d1", config=FREE)
    assert ledger.booked_days == 5 and ledger.booking_note is None and ledger.booked_through == ledger.days[-1].day
    before = [(r.day, r.live_return) for r in booked_days(engine, "SYN", "d1")]

    resolve_forecasts(engine, [Resolution(r.id, "BULLISH") for r in rows if r.bar_ts.day == 2])  # out of order
    with pytest.raises(DataError, match=r"paper ledger SYN/d1 h1: 2024-01-04 .*resolved out of order; nothing written") as caught:
        book_ledger(engine, "SYN", "d1", config=FREE)
    assert "\n" not in str(caught.value)
    assert [(r.day, r.live_return) for r in booked_days(engine, "SYN", "d1")] == before
    [ledger] = paper_ledger(engine, "SYN", "d1", config=FREE)
    assert "resolved out of order" in ledger.booking_note and ledger.booked_days < ledger.n_days

    monkeypatch.chdir(tmp_path)
    (tmp_path / "candor.toml").write_text("[backtest]\ncost_bps = 0\n")
    assert main(["paper", "--url", url, "--no-registry", "--rebuild"]) == 0
    assert "re-booked 5 day(s) of SYN/d1" in "".join(capsys.readouterr())
    [ledger] = paper_ledger(engine, "SYN", "d1", config=FREE)
    assert ledger.booked_days == ledger.n_days == 5 and ledger.booking_note is None
    assert ledger.live_return == pytest.approx(1.1 ** 3 - 1)
