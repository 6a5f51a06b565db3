"""The dashboard in a real browser: Debian's Chromium driven by Playwright (never `playwright install`).

Starts uvicorn on a free 127.0.0.1 port in a thread and checks, at a 1280-px-wide window, what a
trader sees: a horizon model grouped under its series (no fake "d1 h1" series, every link
answers), the equity curve on the model page, one horizon per forecast table judged by that
horizon's champion, tables that fit without horizontal scrolling, the verdict badge's colour,
promote/rollback of a horizon model through the API, and an empty home's first step. One
screenshot per page goes to the test's temp dir (``test-artifacts/`` too, for CI to keep).
Skipped only outside CI when Chromium is missing; in CI that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import TOKEN, open_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WIDTH = 1280
AUTH = {"Authorization": f"Bearer {TOKEN}"}


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


@contextlib.contextmanager
def serving(home: Path) -> Iterator[str]:
    """The app on ``home``'s stores, served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    app, services = open_app(home)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    try:
        while not srv.started:
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail("uvicorn did not start within 20 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
        services.close()


@contextlib.contextmanager
def browser_page() -> Iterator[tuple]:
    """A 1280-px Chromium page and the list its uncaught script errors land in."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, errors
        finally:
            browser.close()
    assert not errors, errors


def shoot(page, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot into the test's temp dir (and a copy in test-artifacts/)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{name}.png is nearly empty"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)
    return path


def assert_no_horizontal_scroll(page) -> None:
    """The page is no wider than the window and no table is wider than the box it sits in."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} is {width} px wide at a {WIDTH}-px window"
    too_wide = page.evaluate("""[...document.querySelectorAll('table')]
        .filter(t => t.scrollWidth > t.parentElement.clientWidth + 1)
        .map(t => `${t.id}: ${t.scrollWidth} > ${t.parentElement.clientWidth}`)""")
    assert not too_wide, too_wide


def _runs(home: Path) -> dict:
    """The training run of each horizon's champion and the newest run, from the store itself."""
    from candor.api import queries
    from candor.services import open_services
    from tests.api.conftest import _config

    with open_services(_config(home)) as services:
        champions = {m.name: m.champion for m in services.registry.list_models()}
        return {"h5": queries.run_for_version(services.engine, "PLANT", "d1", champions["candor.PLANT.d1"], 5),
                "h1": queries.run_for_version(services.engine, "PLANT", "d1", champions["candor.PLANT.d1.h1"], 1),
                "newest": queries.all_runs(services.engine)[0]}


@pytest.fixture
def writable_horizons(horizons_home, tmp_path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    for name in ("candor.db", "mlflow.db"):
        shutil.copy(horizons_home / name, home / name)
    return home


def test_dashboard_groups_horizons_draws_evidence_and_fits_1280px(writable_horizons, trained, tmp_path):
    from candor.api.filters import pct, verdict_class

    runs = _runs(writable_horizons)
    # The newest run is horizon 1's, with another accuracy: quoting it on the horizon-5 page would show.
    assert runs["newest"].horizon == 1 and pct(runs["h5"].oos_accuracy) != pct(runs["newest"].oos_accuracy)
    with serving(writable_horizons) as server, browser_page() as (page, _errors):
        # Overview: one series, its two horizon models as rows under it, every link answers.
        page.goto(server + "/")
        groups = page.locator("#overview tbody.series-group")
        assert groups.count() == 1
        assert groups.first.get_attribute("data-timeframe") == trained.timeframe
        rows = groups.first.locator("tr.horizon-row")
        assert [rows.nth(i).get_attribute("data-horizon") for i in range(rows.count())] == ["1", "5"]
        assert [rows.nth(i).get_attribute("data-name") for i in range(2)] == ["candor.PLANT.d1.h1", "candor.PLANT.d1"]
        text = page.locator("#overview").inner_text()
        assert "d1 h1" not in text and "untrained" not in text
        for href in page.locator("#overview a").evaluate_all("els => els.map(e => e.getAttribute('href'))"):
            assert page.request.get(server + href).status == 200, href
        verdict = rows.nth(1).locator(".pill.verdict")
        assert verdict_class(runs["h5"].verdict) in verdict.get_attribute("class").split()
        assert_no_horizontal_scroll(page)
        shoot(page, tmp_path, "overview")

        # Model page of the plain (horizon-5) model: every chart drawn, the equity curve a real line.
        rows.nth(1).locator("a.model-link").click()
        page.wait_for_url(f"**/models/{trained.symbol}/{trained.timeframe}?horizon=5")
        page.wait_for_selector("#chart-equity.js-plotly-plot svg.main-svg", timeout=15000)
        assert page.locator("#chart-equity .scatterlayer path.js-line").count() >= 2  # strategy and buy & hold
        assert page.locator(".chart.js-plotly-plot").count() == 6  # weights, folds, confusion, calibration, importance, equity
        assert page.locator("#chart-weights svg .bars path").count() >= 1
        assert page.locator("#folds tbody tr").count() == 3 and page.locator("#versions tbody tr").count() == 2
        assert page.locator("#model-name").inner_text() == "candor.PLANT.d1"
        banner = page.locator("#verdict")
        assert verdict_class(runs["h5"].verdict) in banner.get_attribute("class").split()
        assert runs["h5"].verdict.lower() in banner.inner_text().lower()
        assert_no_horizontal_scroll(page)
        shoot(page, tmp_path, "model")

        # The horizon tab switches to the horizon-1 model: its own name, versions and runs.
        page.locator('#horizon-tabs a[data-horizon="1"]').click()
        page.wait_for_url("**?horizon=1")
        page.wait_for_selector("#chart-equity.js-plotly-plot svg.main-svg", timeout=15000)
        assert page.locator("#model-name").inner_text() == "candor.PLANT.d1.h1"
        assert page.locator("#horizon-tabs a.active").get_attribute("data-horizon") == "1"
        assert page.locator("#versions tbody tr").count() == 2
        assert_no_horizontal_scroll(page)
        shoot(page, tmp_path, "model-h1")

        # Forecasts, one horizon per table, each judged by its own champion's accuracy.
        for horizon, run in ((5, runs["h5"]), (1, runs["h1"])):
            page.goto(f"{server}/forecasts/{trained.symbol}/{trained.timeframe}?horizon={horizon}")
            page.wait_for_selector("#chart-live.js-plotly-plot svg.main-svg", timeout=15000)
            table_rows = page.locator("#forecasts tbody tr")
            assert table_rows.count() == 40
            horizons = page.locator("#forecasts tbody tr td:nth-child(2)").all_inner_texts()
            assert set(horizons) == {str(horizon)}, horizons
            card = page.locator("#champion-accuracy").inner_text()
            assert pct(run.oos_accuracy) in card and f"v{run.model_version}" in card
            assert_no_horizontal_scroll(page)
            shoot(page, tmp_path, f"forecasts-h{horizon}")

        # Promote and roll back the horizon-1 model through the API; the overview follows.
        url = f"{server}/api/registry/candor.PLANT.d1.h1"
        moved = page.request.post(f"{url}/promote", data={"version": "2", "force": True, "reason": "browser"},
                                  headers=AUTH)
        assert moved.status == 200, moved.text()
        page.goto(server + "/")
        assert page.locator('tr[data-name="candor.PLANT.d1.h1"] td.champion').inner_text().startswith("v2")
        back = page.request.post(f"{url}/rollback", data={"reason": "browser"}, headers=AUTH)
        assert back.status == 200 and back.json()["version"] == "1", back.text()
        page.reload()
        assert page.locator('tr[data-name="candor.PLANT.d1.h1"] td.champion').inner_text().startswith("v1")


def test_empty_home_shows_the_first_step(tmp_path):
    from candor.api.routes_pages import FIRST_STEP
    from candor.registry.common import FIRST_CHAMPION_STEPS

    home = tmp_path / "empty"  # never used: the embedded store gets its schema on first use
    with serving(home) as server, browser_page() as (page, _errors):
        page.goto(server + "/")
        assert page.locator("#first-step pre code").inner_text() == FIRST_STEP == "\n".join(FIRST_CHAMPION_STEPS)
        assert page.locator("#overview").count() == 0
        assert_no_horizontal_scroll(page)
        shoot(page, tmp_path, "empty-home")
