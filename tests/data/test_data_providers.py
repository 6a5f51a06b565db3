"""Live data adapters against provider responses, with no network.

The provider libraries run for real — yfinance's chart parsing, DST and error handling; ccxt's
binance class with its market loading, symbol mapping, ``parse_ohlcv`` and error classes. Only
the HTTP transport under them is replaced: a ``requests`` transport adapter that answers each
request from the fixture responses in ``tests/data/fixtures/`` (the providers' wire formats; see
``make_fixtures.py``), or from responses built here for the cases that need "now".
"""

from __future__ import annotations

import copy
import json
import re
import sys
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd
import pytest
import requests
from requests.adapters import BaseAdapter
from requests.models import Response

from candor.cli import main
from candor.application.ingest import store_bars
from candor.data.providers import fetch_bars, parse_period, stored_symbol
from candor.data.synthetic import planted_signal
from candor.errors import ConfigError, DataError
from candor.store import connect_store, load_bars, upgrade

FIXTURES = Path(__file__).parent / "fixtures"
HOUR_MS = 3_600_000
T0_MS = 1709251200000  # 2024-03-01 00:00 UTC, the first fixture candle
MARCH_END = pd.Timestamp("2024-03-29 12:00", tz="UTC")
BTC_END = pd.Timestamp("2024-03-02 06:00", tz="UTC")


def _fixture(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text())


class FixtureTransport(BaseAdapter):
    """The HTTP layer under the provider libraries: answers by URL path from the fixtures.

    ``klines`` is served like Binance serves /api/v3/klines — startTime/endTime filter, limit
    capped at ``page_cap`` (a small cap makes the adapter page, as a real exchange's cap does).
    """

    def __init__(self, *, chart=None, klines=None, page_cap: int = 1000, status: dict | None = None):
        super().__init__()
        self.chart, self.klines, self.page_cap = chart, klines, page_cap
        self.status = status or {}
        self.seen: list[tuple[str, dict[str, str]]] = []

    def _body(self, host: str, path: str, query: dict[str, str]):
        if host == "fc.yahoo.com":
            return 404, "<html><body>Not found</body></html>"
        if path == "/v1/test/getcrumb":
            return 200, "fixture-crumb"
        if path.startswith("/v8/finance/chart/"):
            return (200, self.chart) if self.chart is not None else (404, {"chart": {"result": None, "error": {
                "code": "Not Found", "description": "No data found, symbol may be delisted"}}})
        if path == "/api/v3/exchangeInfo":
            return 200, _fixture("binance_exchange_info")
        if path in ("/fapi/v1/exchangeInfo", "/dapi/v1/exchangeInfo"):
            return 200, {"timezone": "UTC", "symbols": []}
        if path == "/api/v3/klines":
            start, end = int(query.get("startTime", 0)), int(query.get("endTime", 2**62))
            limit = min(int(query.get("limit", 500)), self.page_cap)
            return 200, [k for k in self.klines if start <= k[0] <= end][:limit]
        return 404, {"error": f"no fixture for {path}"}

    def send(self, request, **kwargs):
        url = urlparse(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.seen.append((url.path, query))
        status, body = self.status.get(url.path) or self._body(url.hostname, url.path, query)
        response = Response()
        response.status_code, response.url, response.request, response.encoding = status, request.url, request, "utf-8"
        response.reason = HTTPStatus(status).phrase
        response.headers["Content-Type"] = "text/html" if isinstance(body, str) else "application/json"
        response._content = (body if isinstance(body, str) else json.dumps(body)).encode()
        return response

    def close(self) -> None:
        pass


def _session(transport: FixtureTransport) -> requests.Session:
    session = requests.Session()
    session.mount("https://", transport)
    session.mount("http://", transport)
    return session


def _yahoo(chart, tmp_path, **kwargs):
    transport = FixtureTransport(chart=chart)
    bars = fetch_bars("yfinance", "SPY", "d1", "1mo", end=kwargs.pop("end", MARCH_END), session=_session(transport),
                      cache_dir=str(tmp_path / "yf-cache"), **kwargs)
    return bars, transport


def _binance(klines, period="2d", end=BTC_END, page_cap=1000, **kwargs):
    transport = FixtureTransport(klines=klines, page_cap=page_cap, status=kwargs.pop("status", None))
    bars = fetch_bars("ccxt", kwargs.pop("symbol", "BTC/USDT"), kwargs.pop("timeframe", "h1"), period, end=end,
                      session=_session(transport), **kwargs)
    return bars, transport


def _chart_without(chart, dates: set[str]):
    chart = copy.deepcopy(chart)
    result = chart["chart"]["result"][0]
    keep = [i for i, t in enumerate(result["timestamp"])
            if str(pd.Timestamp(t, unit="s", tz="UTC").tz_convert("America/New_York").date()) not in dates]
    result["timestamp"] = [result["timestamp"][i] for i in keep]
    quote = result["indicators"]["quote"][0]
    for key in quote:
        quote[key] = [quote[key][i] for i in keep]
    result["indicators"]["adjclose"][0]["adjclose"] = [result["indicators"]["adjclose"][0]["adjclose"][i] for i in keep]
    return chart


# ---------------------------------------------------------------------------------- yfinance
def test_yfinance_daily_bars_are_session_dates_at_midnight_utc(tmp_path):
    chart = _fixture("yahoo_chart_spy_d1")
    bars, transport = _yahoo(chart, tmp_path)
    quote = chart["chart"]["result"][0]["indicators"]["quote"][0]
    assert bars.attrs == {"symbol": "SPY", "timeframe": "d1", "calendar": "XNYS"}
    assert len(bars) == 20 and str(bars.index[0].date()) == "2024-03-01" and str(bars.index[-1].date()) == "2024-03-28"
    # Across the 10 March DST switch Yahoo's stamps move from 14:30 to 13:30 UTC; bars stay at 00:00 UTC.
    assert (bars.index.hour == 0).all() and (bars.index.minute == 0).all()
    assert pd.Timestamp("2024-03-29", tz="UTC") not in bars.index  # Good Friday: closed, not a gap
    np.testing.assert_allclose(bars["close"], quote["close"])  # as traded, not the dividend-adjusted close
    np.testing.assert_allclose(bars["volume"], quote["volume"])
    chart_calls = [q for path, q in transport.seen if path == "/v8/finance/chart/SPY" and "period1" in q]
    assert chart_calls and chart_calls[-1]["interval"] == "1d"
    assert int(chart_calls[-1]["period2"]) == int(MARCH_END.timestamp())


def test_yfinance_bar_of_a_session_still_open_is_not_stored(tmp_path):
    bars, _ = _yahoo(_fixture("yahoo_chart_spy_d1"), tmp_path, end=pd.Timestamp("2024-03-28 15:00", tz="UTC"))
    assert str(bars.index[-1].date()) == "2024-03-27"  # the 28th closes at 20:00 UTC


def test_yfinance_unknown_symbol_is_one_line(tmp_path):
    with pytest.raises(DataError, match=r"^yfinance SPY d1: YF\w*Error: .*delisted") as info:
        _yahoo(None, tmp_path)
    assert "\n" not in str(info.value)


def test_yfinance_no_rows(tmp_path):
    chart = copy.deepcopy(_fixture("yahoo_chart_spy_d1"))
    result = chart["chart"]["result"][0]
    result.pop("timestamp")
    result["indicators"] = {"quote": [{}], "adjclose": [{}]}
    with pytest.raises(DataError, match=r"^yfinance SPY d1: .*(no price data|no bars)"):
        _yahoo(chart, tmp_path)


def test_yfinance_gap_refused_reported_or_filled(tmp_path):
    chart = _chart_without(_fixture("yahoo_chart_spy_d1"), {"2024-03-13"})
    with pytest.raises(DataError, match=r"^yfinance SPY d1: 1 missing bar\(s\) against the XNYS calendar, first at 2024-03-13"):
        _yahoo(chart, tmp_path)
    reported, _ = _yahoo(chart, tmp_path, gaps="report")
    filled, _ = _yahoo(chart, tmp_path, gaps="ffill")
    assert len(reported) == 19 and len(filled) == 20
    assert filled.loc["2024-03-13", "volume"].item() == 0.0


def test_yfinance_duplicated_bar_becomes_a_refused_gap(tmp_path):
    # yfinance keeps one row per timestamp, so a repeated stamp leaves its real day missing.
    chart = copy.deepcopy(_fixture("yahoo_chart_spy_d1"))
    stamps = chart["chart"]["result"][0]["timestamp"]
    stamps[5] = stamps[4]
    with pytest.raises(DataError, match=r"missing bar\(s\).*first at 2024-03-08"):
        _yahoo(chart, tmp_path)


# ---------------------------------------------------------------------------------- ccxt
def test_ccxt_pages_binance_klines_without_asking_twice():
    klines = _fixture("binance_klines_btcusdt_h1")
    bars, transport = _binance(klines, page_cap=12)
    assert bars.attrs == {"symbol": "BTC-USDT", "timeframe": "h1", "calendar": "24/7"}
    assert len(bars) == 30 and bars.index.is_unique
    assert list(bars.index.asi8 // 1_000_000) == [k[0] for k in klines]
    np.testing.assert_allclose(bars["close"], [float(k[4]) for k in klines])
    starts = [int(q["startTime"]) for path, q in transport.seen if path == "/api/v3/klines"]
    window_start = (BTC_END - pd.Timedelta(days=2)).value // 1_000_000
    assert starts[:3] == [window_start, T0_MS + 12 * HOUR_MS, T0_MS + 24 * HOUR_MS]  # each page after the last
    assert all(q["symbol"] == "BTCUSDT" for path, q in transport.seen if path == "/api/v3/klines")


def test_ccxt_forming_candle_is_dropped():
    bars, _ = _binance(_fixture("binance_klines_btcusdt_h1"), end=pd.Timestamp("2024-03-02 05:30", tz="UTC"))
    assert len(bars) == 29 and bars.index[-1] == pd.Timestamp("2024-03-02 04:00", tz="UTC")


def test_ccxt_candles_of_another_timeframe_are_refused():
    # The fixture serves hourly candles whatever interval is asked: an exchange doing that is caught.
    transport = FixtureTransport(klines=_fixture("binance_klines_btcusdt_h1"))
    with pytest.raises(DataError, match=r"^ccxt binance BTC/USDT h4: bars fail rule 'spacing'"):
        fetch_bars("ccxt", "BTC/USDT", "h4", "2d", end=BTC_END, session=_session(transport))
    assert {q["interval"] for path, q in transport.seen if path == "/api/v3/klines"} == {"4h"}


def _klines_with(change):
    klines = copy.deepcopy(_fixture("binance_klines_btcusdt_h1"))
    change(klines)
    return klines


@pytest.mark.parametrize(("case", "change", "pattern"), [
    ("no_rows", lambda k: k.clear(), r"returned no bars"),
    ("gap", lambda k: k.pop(10), r"1 missing bar\(s\) against the 24/7 calendar, first at 2024-03-01 10:00"),
    ("duplicate", lambda k: k.insert(11, list(k[10])), r"rule 'unique_ts'"),
    ("time_zone_change", lambda k: [c.__setitem__(0, c[0] + HOUR_MS // 2) for c in k[15:]],
     r"(change time alignment at 2024-03-01 15:30.*time zone|rule 'alignment': 15 row\(s\), first at 2024-03-01 15:30)"),
    ("nan_price", lambda k: k[3].__setitem__(4, None), r"rule 'finite'"),
])
def test_ccxt_bad_feeds_are_one_line(case, change, pattern):
    with pytest.raises(DataError, match=r"^ccxt binance BTC/USDT h1: .*" + pattern) as info:
        _binance(_klines_with(change))
    assert "\n" not in str(info.value)


def test_ccxt_errors_are_one_line():
    klines = _fixture("binance_klines_btcusdt_h1")
    with pytest.raises(DataError, match=r"^ccxt binance ETH/USDT h1: BadSymbol: .*ETH/USDT"):
        _binance(klines, symbol="ETH/USDT")
    limited = {"/api/v3/klines": (429, {"code": -1003, "msg": "Too many requests; IP banned."})}
    with pytest.raises(DataError, match=r"^ccxt binance BTC/USDT h1: (DDoSProtection|RateLimitExceeded): .*Too many"):
        _binance(klines, status=limited)
    with pytest.raises(ConfigError, match=r"`exchange` must be a ccxt exchange id"):
        _binance(klines, exchange="nope")


# ---------------------------------------------------------------------------------- names
def test_stored_symbols_and_periods():
    assert stored_symbol("BTC/USDT") == "BTC-USDT" and stored_symbol("BTC/USDT:USDT") == "BTC-USDT-USDT"
    assert stored_symbol("^GSPC") == "^GSPC" and stored_symbol("EURUSD=X") == "EURUSD=X"
    for bad in ("../x", "/etc", "a b", ".hidden", ""):
        with pytest.raises(ConfigError, match=r"`symbol` must"):
            stored_symbol(bad)
    assert pd.Timestamp("2024-03-31") - parse_period("1mo") == pd.Timestamp("2024-02-29")
    assert parse_period("30d") == pd.DateOffset(days=30) and parse_period("5y") == pd.DateOffset(years=5)
    for bad in ("0d", "1h", "5", "y", "-1y"):
        with pytest.raises(ConfigError, match=r"`period` must"):
            parse_period(bad)


# ---------------------------------------------------------------------------------- store
@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'bars.db'}"
    upgrade(url)
    with connect_store(url) as store:
        yield store.engine


def _count(engine) -> int:
    import sqlalchemy as sa

    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT count(*) FROM ohlc_bars")).scalar_one()


def test_store_is_idempotent_and_overlaps_add_only_new_bars(engine):
    klines = _fixture("binance_klines_btcusdt_h1")
    early, _ = _binance(klines[:20], end=BTC_END)
    everything, _ = _binance(klines)
    first = store_bars(engine, early)
    again = store_bars(engine, early)
    later = store_bars(engine, everything)
    assert (first.added, again.added, again.already_stored) == (20, 0, 20)
    assert (later.added, later.already_stored) == (10, 20) and _count(engine) == 30
    np.testing.assert_allclose(load_bars(engine, "BTC-USDT", "h1")["close"], everything["close"])


def test_store_refuses_revisions_shifted_bars_and_holes_writing_nothing(engine):
    klines = _fixture("binance_klines_btcusdt_h1")
    stored, _ = _binance(klines[:20])
    store_bars(engine, stored)
    revised = stored.copy()
    revised[["open", "high", "low", "close"]] /= 2  # a 2:1 split applied to history
    with pytest.raises(DataError, match=r"20 fetched bar\(s\) differ from the stored ones.*revised its history"):
        store_bars(engine, revised)
    shifted = stored.copy()
    shifted.index = shifted.index + pd.Timedelta(minutes=30)
    with pytest.raises(DataError, match=r"with the stored bars: .*(rule 'spacing'|rule 'alignment'|time alignment)"):
        store_bars(engine, shifted)
    tail, _ = _binance(klines[24:])
    with pytest.raises(DataError, match=r"4 missing bar\(s\) against the 24/7 calendar, first at 2024-03-01 20:00"):
        store_bars(engine, tail)
    assert _count(engine) == 20
    filled = store_bars(engine, tail, gaps="ffill")
    assert filled.added == 10 and _count(engine) == 30


# ---------------------------------------------------------------------------------- CLI
def _recent_klines(n: int) -> list[list]:
    """Binance-format hourly candles ending at the last full hour before now (a planted signal)."""
    end = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(hours=1)
    bars = planted_signal(n, seed=3, timeframe="h1", start=end - pd.Timedelta(hours=n - 1), strength=1.0)
    return [[int(ts.value // 1_000_000), f"{o:.6f}", f"{h:.6f}", f"{lo:.6f}", f"{c:.6f}", f"{v:.4f}",
             int(ts.value // 1_000_000) + HOUR_MS - 1, "0", 1, "0", "0", "0"]
            for ts, (o, h, lo, c, v) in zip(bars.index, bars[["open", "high", "low", "close", "volume"]].to_numpy())]


def test_cli_fetch_then_train_from_the_database(candor_home, monkeypatch, capsys):
    transport = FixtureTransport(klines=_recent_klines(1000))
    monkeypatch.setattr(requests.Session, "get_adapter", lambda self, url: transport)  # ccxt's HTTP layer
    argv = ["data", "fetch", "--provider", "ccxt", "--symbol", "BTC/USDT", "--timeframe", "h1", "--period", "60d"]
    assert main(["db", "upgrade"]) == 0
    assert main(argv) == 0
    assert "BTC-USDT/h1 from ccxt BTC/USDT: 1,000 bar(s)" in capsys.readouterr().out
    assert main(argv) == 0
    assert ", 0 new, 1,000 already there" in capsys.readouterr().out
    code = main(["train", "--source", "db", "--symbol", "BTC-USDT", "--timeframe", "h1", "--models", "logreg",
                 "--folds", "3", "--fold-jobs", "1", "--dry-run"])
    out, err = capsys.readouterr()
    assert code in (0, 2), err
    assert "BTC-USDT" in out and not (candor_home / "models").exists()


@pytest.mark.parametrize(("argv", "pattern"), [
    (["train", "--source", "db", "--symbol", "NOPE", "--timeframe", "h1"], r"no NOPE/h1 bars"),
    (["train", "--source", "file", "--symbol", "X", "--timeframe", "h1"], r"must be db"),
    (["train", "--source", "db", "--symbol", "X"], r"needs --symbol and --timeframe"),
    (["train", "--source", "db", "--dataset", "sp500", "--symbol", "X", "--timeframe", "d1"], r"drop --dataset"),
])
def test_cli_source_db_bad_input(argv, pattern, candor_home, capsys):
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code in (1, 3) and len(err.strip().splitlines()) == 1 and re.search(pattern, err), err


@pytest.mark.parametrize("provider", ["ccxt", "yfinance"])
def test_missing_extra_is_one_line_exit_1(provider, candor_home, monkeypatch, capsys):
    # In-process: the claim is the command's exit code, its one line and the untouched home, none of
    # which needs a process of its own (a None entry in sys.modules makes the import fail here too).
    monkeypatch.setitem(sys.modules, provider, None)
    code = main(["data", "fetch", "--provider", provider, "--symbol", "BTC/USDT", "--timeframe", "d1",
                 "--period", "30d"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, err
    assert len(lines) == 1 and f"pip install 'candor[{provider}]'" in lines[0], err
    assert not (candor_home / "candor.db").exists()
