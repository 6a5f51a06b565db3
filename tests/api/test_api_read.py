"""Read endpoints on a store filled by a real small training (see conftest.trained)."""

from __future__ import annotations

import pytest

from tests.api.conftest import serving


@pytest.fixture(scope="module")
def client(trained):
    """One TestClient for the module (every test here only reads): opening services, the app and
    its lifespan once instead of per test saves ~0.2 s a test. Overrides conftest's per-test one."""
    with serving(trained.home) as test_client:
        yield test_client


def test_models_lists_the_champion_with_age(client, trained):
    body = client.get("/api/models").json()
    assert [m["name"] for m in body] == [trained.name]
    model = body[0]
    assert (model["symbol"], model["timeframe"]) == (trained.symbol, trained.timeframe)
    assert (model["champion"], model["previous"], model["versions"]) == ("2", "1", 2)
    assert model["champion_age_days"] == 0 and model["champion_trained_at"]


def test_model_history_has_versions_and_alias_events(client, trained):
    body = client.get(f"/api/models/{trained.symbol}/{trained.timeframe}").json()
    assert body["champion"] == "2"
    assert [v["version"] for v in body["versions"]] == ["2", "1"]
    assert body["versions"][0]["aliases"] == ["champion"] and body["versions"][1]["aliases"] == ["previous"]
    assert body["versions"][1]["status"] == "failed" and "significant_edge" in body["versions"][1]["gate_reasons"]
    moves = [(e["alias"], e["from_version"], e["to_version"]) for e in body["alias_events"]]
    assert moves == [("champion", None, "1"), ("previous", None, "1"), ("champion", "1", "2")]
    assert {e["action"] for e in body["alias_events"]} == {"force_promote"}
    assert body["alias_events"][-1]["actor"] == "fixture"


@pytest.mark.parametrize("url, status, needle", [
    ("/api/models/NOPE/d1", 404, "unknown symbol 'NOPE'; known symbols: PLANT"),
    ("/api/models/PLANT/h1", 404, "no model for PLANT/h1; PLANT has: d1"),
    ("/api/forecasts?symbol=NOPE", 404, "unknown symbol 'NOPE'"),
    ("/api/drift?symbol=NOPE", 404, "unknown symbol 'NOPE'"),
    ("/api/training-runs?symbol=NOPE", 404, "unknown symbol 'NOPE'"),
])
def test_unknown_symbol_or_series_is_404_with_message(client, url, status, needle):
    response = client.get(url)
    assert response.status_code == status
    assert needle in response.json()["detail"]


@pytest.mark.parametrize("url", [
    "/api/forecasts?symbol=../x", "/api/forecasts?symbol=..", "/api/drift?symbol=pl%20ant",
    "/api/models/..x/d1", "/api/models/.PLANT/d1", "/api/models/PLANT/d2", "/api/forecasts?timeframe=1d",
    "/api/training-runs?symbol=" + "A" * 33, "/api/forecasts?symbol=PL%2FANT",
])
def test_symbol_and_timeframe_patterns_reject_traversal_and_junk(client, url):
    response = client.get(url)
    assert response.status_code == 422, response.text
    assert response.json()["message"]


def test_dot_dot_slash_in_a_path_never_reaches_a_route(client):
    assert client.get("/api/models/..%2Fx/d1").status_code == 404
    assert client.get("/api/models/%2E%2E/d1").status_code == 422


def test_training_runs_newest_first_report_on_request(client, trained):
    runs = client.get("/api/training-runs").json()
    assert [r["model_version"] for r in runs] == ["2", "1"]
    assert all(r["report"] is None for r in runs)
    run = runs[0]
    assert run["symbol"] == trained.symbol and run["best_baseline"] and run["verdict"]
    assert run["lift_ci_low"] <= run["lift"] <= run["lift_ci_high"]
    full = client.get("/api/training-runs", params={"limit": 1, "include_report": True}).json()
    assert len(full) == 1 and full[0]["report"]["oos"]["accuracy"] == pytest.approx(run["oos_accuracy"])


def test_forecasts_filter_by_series_and_date(client, trained):
    rows = client.get("/api/forecasts", params={"symbol": trained.symbol, "timeframe": trained.timeframe}).json()
    assert len(rows) == 120
    stamps = [r["bar_ts"] for r in rows]
    assert stamps == sorted(stamps) and rows[-1]["bar_ts"].startswith(str(trained.bars.index[-1].date()))
    assert sum(r["realized_direction"] is None for r in rows) == 5  # the newest `horizon` bars are open
    start, end = rows[10]["bar_ts"], rows[19]["bar_ts"]
    window = client.get("/api/forecasts", params={"symbol": trained.symbol, "start": start, "end": end}).json()
    assert [r["bar_ts"] for r in window] == stamps[10:20]
    assert client.get("/api/forecasts", params={"timeframe": "h1"}).json() == []
    assert len(client.get("/api/forecasts", params={"limit": 7}).json()) == 7


def test_forecasts_start_after_end_is_422(client):
    response = client.get("/api/forecasts", params={"start": "2012-02-01", "end": "2012-01-01"})
    assert response.status_code == 422 and "after `end`" in response.json()["detail"]


def test_drift_rows_oldest_first_and_since(client, trained):
    rows = client.get("/api/drift", params={"symbol": trained.symbol, "timeframe": trained.timeframe}).json()
    assert [r["status"] for r in rows] == ["normal", "monitor", "drift"]
    since = client.get("/api/drift", params={"since": rows[1]["date"]}).json()
    assert [r["status"] for r in since] == ["monitor", "drift"]


def test_openapi_documents_every_endpoint(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/models", "/api/models/{symbol}/{timeframe}", "/api/training-runs", "/api/forecasts",
                 "/api/drift", "/api/predict", "/api/registry/{name}/promote", "/api/registry/{name}/rollback"):
        assert path in paths
    assert "/" not in paths  # pages are not API
