"""Bad input aimed at the web service's edge and the registry's names (issue 22 items 1 and 5).

- The body limit counts the bytes actually received, whatever the headers say: a request with
  ``Content-Length: 10`` and ``Transfer-Encoding: chunked`` used to stream 200 MB into the parser.
- A token-guarded route refuses a missing or wrong token before it reads a byte of the body.

The ASGI tests call the app directly with a ``receive`` that hands out up to 200 MB in 64 KiB
chunks (one bytes object, reused: the test holds no 200 MB) and count what was consumed.
"""

from __future__ import annotations

import json

import anyio
import pytest

TOKEN = "t0ken"
CHUNK = b" " * (64 * 1024)  # whitespace: the body is valid JSON padding until the limit stops it
MAX_CHUNKS = 3200  # 200 MB
LIMIT_CHUNKS = 2 * 1024 * 1024 // len(CHUNK)  # api.max_body_mb = 2


@pytest.fixture(scope="module")
def api_home(tmp_path_factory):
    return tmp_path_factory.mktemp("api-home")


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
