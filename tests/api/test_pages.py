"""Server-rendered pages (HTML checks; the browser test draws them) and the chart/view helpers."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest

HTML = {"Accept": "text/html"}


def test_overview_shows_each_series_with_evidence_and_status(client, trained):
    page = client.get("/", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    rows = re.findall(r'<tbody class="series-group" data-symbol="(\w+)" data-timeframe="(\w+)"', page.text)
    assert rows == [(trained.symbol, trained.timeframe)]
    assert re.findall(r'<tr class="horizon-row" data-horizon="(\d+)"', page.text) == ["5"]
    assert f'href="/models/{trained.symbol}/{trained.timeframe}"' in page.text
    assert "v2" in page.text and "(prev v1)" in page.text and "today" in page.text
    assert "no significant edge" in page.text and "stratified" in page.text or "majority" in page.text
    assert re.search(r"\[[+-]\d+\.\d pts, [+-]\d+\.\d pts\]", page.text)  # the lift CI
    assert "drift</td>" not in page.text and ">drift" in page.text  # latest drift status with its colour
    assert f'href="/forecasts/{trained.symbol}/{trained.timeframe}?horizon=5"' in page.text


def test_model_page_has_every_chart_and_table(client, trained):
    page = client.get(f"/models/{trained.symbol}/{trained.timeframe}", headers=HTML).text
    for chart in ("weights", "folds", "confusion", "calibration", "importance", "equity"):
        assert f'id="chart-{chart}"' in page
    assert len(re.findall(r"<tr><td>\d+</td><td>\d{4}-\d\d-\d\d → ", page)) == 3  # one row per fold
    assert page.count('href="/models/PLANT/d1?horizon=5&amp;version=') == 2
    assert "force_promote" in page and "fixture: second champion" in page
    assert "Backtest" in page  # the report carries a backtest section
    assert "carries metrics but no equity curve" not in page  # the stored curve is drawn
    assert '<script src="/assets/plotly.min.js"></script>' in page
    assert "cdn" not in page.lower() and not re.search(r'src="https?://', page)


def test_model_page_for_an_older_version(client, trained):
    page = client.get(f"/models/{trained.symbol}/{trained.timeframe}?version=1", headers=HTML)
    assert page.status_code == 200 and "showing version 1" in page.text
    missing = client.get(f"/models/{trained.symbol}/{trained.timeframe}?version=7", headers=HTML)
    assert missing.status_code == 404 and "version 7" in missing.text


def test_forecasts_page_shows_history_and_live_accuracy(client, trained):
    page = client.get(f"/forecasts/{trained.symbol}/{trained.timeframe}", headers=HTML).text
    assert 'id="chart-history"' in page and 'id="chart-live"' in page
    assert page.count('<span class="pill none">open</span>') == 5
    assert page.count('class="pill good">hit') + page.count('class="pill bad">miss') == 35


def test_pages_reject_bad_input_with_an_html_error(client):
    page = client.get("/models/NOPE/d1", headers=HTML)
    assert page.status_code == 404 and "<html" in page.text and "unknown symbol &#39;NOPE&#39;" in page.text
    assert client.get("/models/..x/d1", headers=HTML).status_code == 422
    assert client.get("/forecasts/PLANT/x1", headers=HTML).status_code == 422


def test_plotly_is_served_locally(client):
    response = client.get("/assets/plotly.min.js")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/javascript")
    assert len(response.content) > 1_000_000 and b"plotly" in response.content[:2000].lower()
    assert client.get("/static/candor.css").status_code == 200


def test_equity_chart_draws_drawdown_from_the_running_peak():
    from candor.api.charts import equity_chart

    figure = equity_chart(["a", "b", "c", "d"], [1.0, 1.2, 0.9, 1.3], [1.0, 1.0, 1.0, 1.0])
    drawdown = next(trace for trace in figure["data"] if trace["name"] == "drawdown")
    assert drawdown["y"] == pytest.approx([0.0, 0.0, -0.25, 0.0])
    assert [t["name"] for t in figure["data"]] == ["strategy (after costs)", "buy & hold", "drawdown"]


@pytest.mark.parametrize("curve", [
    {"ts": ["2020-01-01", "2020-01-02"], "equity": [1.0, 1.1]},
    {"2020-01-01": 1.0, "2020-01-02": 1.1},
    [["2020-01-01", 1.0], ["2020-01-02", 1.1]],
])
def test_backtest_equity_curve_is_rendered_in_any_shape(curve):
    from candor.api.routes_pages import _equity
    from candor.records.backtest import BacktestSummary

    figure = _equity(BacktestSummary.model_validate({"equity_curve": curve}))
    assert figure is not None and figure["data"][0]["y"] == [1.0, 1.1]
    assert _equity(BacktestSummary.model_validate({"metrics": {"sharpe": 1.0}})) is None


def test_live_baseline_only_uses_outcomes_known_before_each_forecast():
    from candor.api.queries import live_accuracy

    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    outcomes = ["BULLISH", "BULLISH", "BEARISH", "BEARISH", "BEARISH"]
    rows = [SimpleNamespace(bar_ts=t0 + dt.timedelta(days=i), direction="BEARISH", realized_direction=o)
            for i, o in enumerate(outcomes)]
    points = live_accuracy(rows, window=10, min_n=1)
    # baseline guesses: NEUTRAL (nothing seen), BULLISH, BULLISH, BULLISH (2:1), BULLISH (2:2 → first seen)
    assert [p.baseline for p in points] == pytest.approx([0, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    assert [p.accuracy for p in points] == pytest.approx([0, 0, 1 / 3, 2 / 4, 3 / 5])
    assert live_accuracy(rows, window=10, min_n=3)[0].n == 3


def test_consensus_prefers_the_stored_vote_then_the_majority():
    from candor.api.queries import consensus

    t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    plain = [SimpleNamespace(direction=d, consensus_direction=None, bar_ts=t) for d in ("BULLISH", "BULLISH", "BEARISH")]
    assert consensus(plain) == ("BULLISH", pytest.approx(2 / 3))
    stored = plain + [SimpleNamespace(direction="BEARISH", consensus_direction="BEARISH", consensus_agreement=0.75,
                                      bar_ts=t)]
    assert consensus(stored) == ("BEARISH", 0.75)
    assert consensus([]) is None


@pytest.fixture
def horizons_client(horizons_home):
    from fastapi.testclient import TestClient

    from tests.api.conftest import open_app

    app, services = open_app(horizons_home)
    with TestClient(app) as test_client:
        yield test_client
    services.close()


def test_a_horizon_model_is_a_row_under_its_series_not_a_series(horizons_client, trained):
    page = horizons_client.get("/", headers=HTML).text
    assert re.findall(r'<tbody class="series-group" data-symbol="(\w+)" data-timeframe="(\w+)"', page) == [
        (trained.symbol, trained.timeframe)]
    assert re.findall(r'<tr class="horizon-row" data-horizon="(\d+)" data-name="([\w.]+)"', page) == [
        ("1", "candor.PLANT.d1.h1"), ("5", "candor.PLANT.d1")]
    assert "d1 h1" not in page and "untrained" not in page
    for href in set(re.findall(r'href="(/(?:models|forecasts)/[^"]+)"', page)):
        assert horizons_client.get(href.replace("&amp;", "&"), headers=HTML).status_code == 200, href
    models = horizons_client.get("/api/models").json()
    assert [(m["name"], m["timeframe"], m["horizon"]) for m in models] == [
        ("candor.PLANT.d1.h1", "d1", 1), ("candor.PLANT.d1", "d1", 5)]
    history = horizons_client.get("/api/models/PLANT/d1?horizon=1").json()
    assert history["name"] == "candor.PLANT.d1.h1" and [v["version"] for v in history["versions"]] == ["2", "1"]


def test_pages_of_one_horizon_show_only_that_horizon(horizons_client, trained):
    model = horizons_client.get("/models/PLANT/d1?horizon=1", headers=HTML).text
    assert '<span class="muted" style="font-weight:400" id="model-name">candor.PLANT.d1.h1</span>' in model
    assert re.findall(r'class="tab( active)?" data-horizon="(\d+)"', model) == [(" active", "1"), ("", "5")]
    assert 'id="chart-equity"' in model
    for horizon in (1, 5):
        page = horizons_client.get(f"/forecasts/PLANT/d1?horizon={horizon}", headers=HTML).text
        table = page[page.index('<table id="forecasts"'):]
        assert set(re.findall(r'<td class="num">(\d+)</td>\s*<td><span class="dir', table)) == {str(horizon)}
    missing = horizons_client.get("/forecasts/PLANT/d1?horizon=3", headers=HTML)
    assert missing.status_code == 404 and "horizons: 1, 5" in missing.text
    assert horizons_client.get("/models/PLANT/d1?horizon=0", headers=HTML).status_code == 422


def test_forecasts_page_quotes_the_champions_accuracy_not_the_newest_runs(horizons_client, horizons_home):
    from candor.api import queries
    from candor.api.filters import pct
    from candor.services import open_services
    from tests.api.conftest import _config

    with open_services(_config(horizons_home)) as services:
        newest = queries.all_runs(services.engine)[0]
        champion = queries.run_for_version(services.engine, "PLANT", "d1", "2", 5)
    assert newest.horizon == 1 and pct(newest.oos_accuracy) != pct(champion.oos_accuracy)
    page = horizons_client.get("/forecasts/PLANT/d1", headers=HTML).text
    card = page[page.index('id="champion-accuracy"'):][:600]
    assert pct(champion.oos_accuracy) in card and "v2" in card and pct(newest.oos_accuracy) not in card


def test_every_verdict_gets_its_own_badge():
    from candor.api.filters import verdict_class, verdict_text
    from candor.records.verdict import Verdict

    classes = {verdict_class(v) for v in Verdict}
    assert len(classes) == len(Verdict) and "none" not in classes
    assert verdict_class(Verdict.SIGNIFICANT_EDGE) == "good" and verdict_class("no significant edge") == "warn"
    assert verdict_class("significantly worse than the baseline") == "bad"
    assert verdict_class(None) == verdict_class("") == verdict_class("not a verdict") == "none"
    assert verdict_text("significantly worse than the baseline") == "Significantly worse than the baseline"
