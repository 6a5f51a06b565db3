"""The scheduled fetch job (issue 25 item 1) from a recorded provider response: each configured
series downloaded and stored, a second fire adds nothing, a corrected bar is refused under the
default policy while the other series still fetch, and ``schedule list`` shows the job."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import requests

import candor.application.ingest as ingest
from candor.cli import main
from candor.config import load_config
from candor.ops.jobs import JOBS, run_job
from candor.store import connect_store, list_series, upgrade
from tests.data.test_data_providers import BTC_END, FixtureTransport, _fixture

BTC = {"provider": "ccxt", "symbol": "BTC/USDT", "timeframe": "h1", "period": "2d"}


@pytest.fixture
def recorded(monkeypatch):
    """ccxt's HTTP answered from the recorded Binance responses; the clock at the fixture's end."""
    klines = _fixture("binance_klines_btcusdt_h1")
    transport = FixtureTransport(klines=klines)
    monkeypatch.setattr(requests.Session, "get_adapter", lambda self, url: transport)
    monkeypatch.setattr(ingest, "now_utc", lambda: BTC_END)
    return transport


def _ctx(tmp_path, **data):
    url = f"sqlite:///{tmp_path / 'candor.db'}"
    upgrade(url)
    config = load_config(None, {"home": str(tmp_path / "home"), "data": data}, environ={})
    store = connect_store(url)
    return SimpleNamespace(services=SimpleNamespace(store=store, config=config), config=config, bars_loader=None), store


def test_fetch_job_stores_each_configured_series(recorded, tmp_path):
    ctx, store = _ctx(tmp_path, fetch=[{**BTC, "symbol": "NOPE/USDT"}, BTC])
    with store:
        first = run_job("fetch", ctx)
        assert first[0].result is None and "NOPE/USDT" in first[0].error  # one series fails, the next still runs
        btc = first[1].result
        assert first[1].error is None and (btc.symbol, btc.timeframe) == ("BTC-USDT", "h1")
        assert btc.added == btc.received > 0
        again = run_job("fetch", ctx)[1].result
        assert again.added == 0 and again.already_stored == btc.received
        stored = {(s.symbol, s.timeframe): s for s in list_series(store.engine)}
    assert list(stored) == [("BTC-USDT", "h1")] and stored[("BTC-USDT", "h1")].n_bars == btc.received
    assert stored[("BTC-USDT", "h1")].last == btc.last < BTC_END  # closed bars only


def test_fetch_job_refuses_a_revised_bar_and_goes_on(recorded, tmp_path, caplog):
    ctx, store = _ctx(tmp_path, fetch=[BTC])
    with store:
        run_job("fetch", ctx)
        revised = copy.deepcopy(recorded.klines)
        revised[3][4] = f"{float(revised[3][4]) * 1.05:.2f}"  # a corrected close
        revised[3][2] = f"{max(float(revised[3][2]), float(revised[3][4])):.2f}"
        recorded.klines = revised
        outcomes = run_job("fetch", ctx)
    assert outcomes[0].result is None and "1 fetched bar(s) differ from the stored ones" in outcomes[0].error
    assert "2024-03-01 03:00:00+00:00" in outcomes[0].error and "--revisions replace" in outcomes[0].error
    assert any("fetch ccxt BTC/USDT h1:" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")


def test_fetch_job_without_series_does_nothing(tmp_path, caplog):
    ctx, store = _ctx(tmp_path)
    with store:
        assert run_job("fetch", ctx) == []
    assert "no series configured" in caplog.text


def test_schedule_lists_the_fetch_job_before_the_forecast(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CANDOR_HOME", str(tmp_path / "home"))
    assert JOBS.index("fetch") < JOBS.index("forecast")
    assert main(["schedule", "list"]) == 0
    out = capsys.readouterr().out
    assert "fetch" in out and "15 21 * * mon-fri" in out
