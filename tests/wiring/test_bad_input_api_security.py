"""Bad input aimed at the web service's edge and the registry's names (issue 22 items 1 and 5).

- The body limit counts the bytes actually received, whatever the headers say: a request with
  ``Content-Length: 10`` and ``Transfer-Encoding: chunked`` used to stream 200 MB into the parser.
- A token-guarded route refuses a missing or wrong token before it reads a byte of the body.

The ASGI tests call the app directly with a ``receive`` that hands out up to 200 MB in 64 KiB
chunks (one bytes object, reused: the test holds no 200 MB) and count what was consumed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import pytest

TOKEN = "t0ken"
CHUNK = b" " * (64 * 1024)  # whitespace: the body is valid JSON padding until the limit stops it
MAX_CHUNKS = 3200  # 200 MB
LIMIT_CHUNKS = 2 * 1024 * 1024 // len(CHUNK)  # api.max_body_mb = 2


@pytest.fixture(scope="module")
def api_home(tmp_path_factory):
    """Copies of the migrated empty stores: a request that reads the registry finds MLflow's store
    built (building it inside a request took seconds; the requests, not the first run, are the point)."""
    from tests.templates import seed_home

    return seed_home(tmp_path_factory.mktemp("api-home"), tmp_path_factory)


def _app(home, token: str | None):
    from candor.api import create_app
    from candor.config import load_config
    from candor.services import open_services

    api = {"token": token} if token else {}
    services = open_services(load_config(environ={}, overrides={"home": str(home), "api": api}), migrate=True)
    return create_app(services), services


@pytest.fixture(scope="module")
def app(api_home):
    built, services = _app(api_home, TOKEN)
    yield built
    services.close()


@pytest.fixture(scope="module")
def open_app(api_home):
    """No token configured: writes are off, /api/predict is open (so it reads bodies)."""
    built, services = _app(api_home, None)
    yield built
    services.close()


def _call(app, path: str, headers: dict[str, str], first: bytes = b'{"version": "1"') -> tuple[int, dict, int]:
    """POST ``path`` through the ASGI app with a 200 MB streamed body; (status, JSON body, chunks
    consumed). The first chunk is ``first``, the rest whitespace."""
    consumed, sent = 0, []

    async def receive():
        nonlocal consumed
        if consumed >= MAX_CHUNKS:
            return {"type": "http.disconnect"}
        consumed += 1
        body = first if consumed == 1 else CHUNK
        return {"type": "http.request", "body": body, "more_body": consumed < MAX_CHUNKS}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "test", **headers}.items()],
             "client": ("127.0.0.1", 1234), "server": ("test", 80)}
    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), consumed


LIE = {"content-length": "10", "transfer-encoding": "chunked", "content-type": "application/json"}
PROMOTE = "/api/registry/candor.GOOD.d1/promote"


def test_a_chunked_body_that_lies_about_its_length_is_413_after_the_limit(app):
    status, body, consumed = _call(app, PROMOTE, {**LIE, "authorization": f"Bearer {TOKEN}"})
    assert status == 413 and "api.max_body_mb" in body["detail"], body
    assert consumed <= LIMIT_CHUNKS + 1, f"read {consumed} chunks of 64 KiB for a 2 MB limit"


def test_the_count_covers_every_route_that_reads_a_body(open_app):
    """/api/predict is open without a token: the limit alone stops the stream."""
    status, body, consumed = _call(open_app, "/api/predict", LIE, first=b'{"symbol": "SPX"')
    assert status == 413 and "MB" in body["detail"], body
    assert consumed <= LIMIT_CHUNKS + 1


@pytest.mark.parametrize(("path", "authorization", "status", "detail"), [
    (PROMOTE, None, 401, "missing bearer token"),
    (PROMOTE, "Bearer wrong", 403, "wrong bearer token"),
    (PROMOTE, f"Basic {TOKEN}", 401, "missing bearer token"),
    ("/api/registry/candor.GOOD.d1/rollback", None, 401, "missing bearer token"),
    ("/api/predict", None, 401, "missing bearer token"),  # guarded once a token is set
    ("/api/predict", "Bearer wrong", 403, "wrong bearer token"),
])
def test_a_guarded_route_refuses_a_bad_token_before_reading_the_body(app, path, authorization, status, detail):
    headers = {**LIE} if authorization is None else {**LIE, "authorization": authorization}
    got, body, consumed = _call(app, path, headers)
    assert got == status and detail in body["detail"], body
    assert consumed == 0, f"read {consumed} chunks before refusing the token"


def test_writes_switched_off_refuse_before_reading_the_body(open_app):
    got, body, consumed = _call(open_app, PROMOTE, {**LIE, "authorization": f"Bearer {TOKEN}"})
    assert got == 403 and "write endpoints are disabled" in body["detail"] and consumed == 0


def test_a_good_token_still_reaches_the_route(app):
    """The guard lets a valid request through to the route's own rules (no such model: 404)."""
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        response = client.post(PROMOTE, json={"version": "1"}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 404, response.text
        assert client.post(PROMOTE, json={"version": "1"}).headers.get("www-authenticate") == "Bearer"


def test_a_real_server_refuses_the_lie_and_the_anonymous_write(app):
    """Through uvicorn (its HTTP parser decides how a body with both headers is framed): 8 MB sent
    chunked under ``Content-Length: 10`` gets the 413 with a token and the 401 without one."""
    import socket
    import threading
    import time

    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    frame = b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n"

    def status(authorization: str) -> bytes:
        with socket.create_connection(listener.getsockname(), timeout=5) as connection:
            connection.sendall(f"POST {PROMOTE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               f"Content-Length: 10\r\nTransfer-Encoding: chunked\r\n{authorization}\r\n".encode())
            try:
                for _ in range(128):  # 8 MB
                    connection.sendall(frame)
            except OSError:  # the server answered and closed: what a refusal may do
                pass
            return connection.recv(4096).split(b"\r\n", 1)[0]

    try:
        assert status(f"Authorization: Bearer {TOKEN}\r\n") == b"HTTP/1.1 413 Request Entity Too Large"
        assert status("") == b"HTTP/1.1 401 Unauthorized"
    finally:
        server.should_exit = True
        thread.join(5)


# --- issue 22 item 5: registered names read back as exactly one series --------------------------

from candor.cli import main  # noqa: E402
from candor.data.bars import TIMEFRAMES, check_symbol  # noqa: E402
from candor.errors import ConfigError  # noqa: E402
from candor.registry.common import DEFAULT_HORIZON, ModelRef, model_name, parse_model_name  # noqa: E402
from tests.api.conftest import trained, writable_home  # noqa: E402,F401 - the API's session training, reused
from tests.wiring.test_bad_input_corpus import _refused_in_one_line  # noqa: E402

#: Tickers as vendors write them, and near misses of the timeframe and horizon tokens.
SYMBOLS = ["SPX", "BRK.B", "^GSPC", "EURUSD=X", "BTC-USDT", "GOOD.D1", "X.h20", "X.h", "A.B.C", "H4", "D1",
           "M15.X", "d1.X", "h4X", "X.d2", "X.m30", "X.1", "GOOD_d1", "GOOD-h4", "h5", "X.w1x"]
#: Symbols whose last '.'-part is a timeframe: ``GOOD.d1`` at h4 would be ``candor.GOOD.d1.h4``,
#: the name of GOOD/d1 at horizon 4.
COLLIDING = ["GOOD.d1", "X.h4", "X.h1", "A.B.w1", "Y.m15", "Z.m1", "Q.m5", "d1", "h4", "m15"]
HORIZONS = [None, 1, 2, 4, DEFAULT_HORIZON, 20, 1000]


def test_every_accepted_symbol_names_one_series_that_reads_back():
    names: dict[str, tuple] = {}
    for symbol in SYMBOLS:
        check_symbol(symbol)
        for timeframe in TIMEFRAMES:
            for horizon in HORIZONS:
                name = model_name(symbol, timeframe, horizon)
                ref = parse_model_name(name)
                assert (ref.timeframe, ref.horizon) == (timeframe, horizon or DEFAULT_HORIZON), (symbol, name, ref)
                assert ref.symbol == model_name(symbol, "d1").removeprefix("candor.").removesuffix(".d1")
                assert ref.name == name
                series = (ref.symbol, timeframe, horizon or DEFAULT_HORIZON)
                assert names.setdefault(name, series) == series, f"{name} names two series"


@pytest.mark.parametrize("symbol", COLLIDING)
def test_a_symbol_ending_in_a_timeframe_is_refused_naming_the_rule(symbol):
    with pytest.raises(ConfigError, match=r"`symbol` must not end in a timeframe .* Got '" + re.escape(symbol)):
        check_symbol(symbol)
    # what it would collide with: a name that reads back as another series (or as none)
    for timeframe in ("h1", "h4"):
        name = model_name(symbol, timeframe)
        try:
            assert parse_model_name(name) != ModelRef(symbol, timeframe)
        except Exception as exc:  # noqa: BLE001 - a name that parses as nothing collides too
            assert "not a candor model" in str(exc)


@pytest.mark.parametrize("argv", [
    ["train", "--dataset", "sp500", "--symbol", "GOOD.d1", "--timeframe", "h4"],
    ["train", "--dataset", "sp500", "--symbol", "GOOD.d1"],
    ["train", "--dataset", "sp500", "--symbol", "h4"],
    ["data", "import", "--data", "x.csv", "--symbol", "X.h1", "--timeframe", "d1"],
    ["forecast", "--symbols", "GOOD.d1", "--timeframes", "h4"],
    ["registry", "promote", "GOOD.d1/h4", "1"],
], ids=lambda a: " ".join(a[:6]))
def test_colliding_symbols_are_refused_in_one_line(argv, home, capsys):
    _refused_in_one_line(argv, 3, r"`symbol` must not end in a timeframe", home, capsys)


def test_predict_refuses_a_colliding_symbol_before_the_registry(app):
    from fastapi.testclient import TestClient

    bar = {"ts": "2024-01-02T00:00:00Z", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}
    with TestClient(app) as client:
        response = client.post("/api/predict", json={"symbol": "GOOD.d1", "timeframe": "h4", "bars": [bar]},
                               headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 422 and "must not end in a timeframe" in response.json()["message"], response.text


# --- API error details never name the server's absolute paths ------------------------------------

def test_public_message_hides_absolute_paths(tmp_path):
    from candor.api.app import public_message

    home = tmp_path / "home"
    cases = {
        f"artifact of candor.SPX.d1 version 2 is missing at {home}/mlartifacts/1/r/artifacts/model.":
            "artifact of candor.SPX.d1 version 2 is missing at <home>/mlartifacts/1/r/artifacts/model.",
        f"MLflow registry at sqlite:///{home}/mlflow.db refused the request": "MLflow registry at sqlite:///<home>/mlflow.db "
                                                                             "refused the request",
        "the run has no logged model at file:///srv/candor/abc/model; log it": "the run has no logged model at …/model; log it",
        "'/srv/x/manifest.json' is not UTF-8 JSON": "'…/manifest.json' is not UTF-8 JSON",
        f"at {home}work/y": "at …/y",  # a sibling of the home is not under it
        "BTC/USDT h4 (1 / 2) from http://mlflow:5000/api and SPX/d1": "BTC/USDT h4 (1 / 2) from http://mlflow:5000/api and SPX/d1",
    }
    for message, public in cases.items():
        assert public_message(message, home) == public


@pytest.mark.parametrize("where", ["home", "elsewhere"])
def test_an_api_error_names_no_absolute_server_path(writable_home, trained, where):
    """The champion's artifact gone (its MLflow source moved): the loader's RegistryError names the
    path in full (for the CLI); the API answers with it relative to the home, or its last part."""
    import sqlite3

    from fastapi.testclient import TestClient

    from tests.api.conftest import open_app as open_trained_app

    gone = writable_home / "mlartifacts" / "gone" / "model" if where == "home" else Path("/nonexistent-candor/x/model")
    with sqlite3.connect(writable_home / "mlflow.db") as db:
        assert db.execute("UPDATE model_versions SET source = ?, storage_location = ?",
                          (gone.as_uri(), gone.as_uri())).rowcount > 0
    app, services = open_trained_app(writable_home)
    bar = {"ts": "2024-01-02T00:00:00Z", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}
    try:
        with TestClient(app) as client:
            response = client.post("/api/predict", json={"symbol": trained.symbol, "timeframe": trained.timeframe,
                                                         "bars": [bar]}, headers={"Authorization": "Bearer s3cret-test-token"})
            page = client.get(f"/models/{trained.symbol}/{trained.timeframe}", headers={"Accept": "text/html"})
    finally:
        services.close()
    detail = response.json()["detail"]
    assert response.status_code == 409 and "is missing at" in detail, detail
    assert str(writable_home) not in detail and "/nonexistent-candor" not in detail and str(gone.parent) not in detail
    assert detail.endswith("<home>/mlartifacts/gone/model." if where == "home" else "…/model."), detail
    assert str(writable_home) not in page.text and "/nonexistent-candor" not in page.text
