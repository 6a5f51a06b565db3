"""The dashboard in a real browser: Debian's Chromium driven by Playwright (never `playwright install`).

Starts uvicorn on a free 127.0.0.1 port in a thread, opens the overview, follows the link to the
model page, checks table rows and rendered Plotly charts, and saves screenshots to
``test-artifacts/``. Skipped only outside CI when Chromium is missing; in CI that is a failure.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.api.conftest import open_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _require_chromium() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package"
    else:
        missing = None if CHROMIUM.exists() else str(CHROMIUM)
    if missing is None:
        return
    message = f"browser test needs {missing} (apt-get install -y chromium; pip install playwright)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(trained):
    """The app on the trained store, served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    app, services = open_app(trained.home)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 20 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    services.close()


def test_overview_to_model_page_in_chromium(server, trained):
    _require_chromium()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server + "/")
            rows = page.locator("#overview tbody tr.series-row")
            assert rows.count() == 1
            assert trained.symbol in rows.first.inner_text()
            page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

            page.locator("a.model-link").first.click()
            page.wait_for_url(f"**/models/{trained.symbol}/{trained.timeframe}")
            page.wait_for_selector("#chart-confusion.js-plotly-plot svg.main-svg", timeout=15000)
            assert page.locator("#folds tbody tr").count() == 3
            assert page.locator("#versions tbody tr").count() == 2
            drawn = page.locator(".chart.js-plotly-plot")
            assert drawn.count() == 6  # weights, folds, confusion, calibration, importance, equity
            assert page.locator("#chart-weights svg .bars path").count() >= 1  # a bar was actually drawn
            assert "No significant edge" in page.locator("#verdict").inner_text() or \
                "Significant edge" in page.locator("#verdict").inner_text()
            page.screenshot(path=str(ARTIFACTS / "model.png"), full_page=True)

            page.goto(f"{server}/forecasts/{trained.symbol}/{trained.timeframe}")
            page.wait_for_selector("#chart-live.js-plotly-plot svg.main-svg", timeout=15000)
            assert page.locator("#forecasts tbody tr").count() == 40
            page.screenshot(path=str(ARTIFACTS / "forecasts.png"), full_page=False)
        finally:
            browser.close()
    assert not errors, errors
    assert (ARTIFACTS / "model.png").stat().st_size > 10_000
