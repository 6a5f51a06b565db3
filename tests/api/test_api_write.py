"""POST /api/predict (same code path as the forecast job) and the token-guarded registry moves."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.api.conftest import TOKEN, open_app

AUTH = {"Authorization": f"Bearer {TOKEN}"}


PREDICT_BARS = 450  # past the default features' 392-bar warm-up


def _bars_json(bars, n: int = PREDICT_BARS) -> list[dict]:
    tail = bars.iloc[-n:]
    return [{"ts": ts.isoformat(), **{c: float(row[c]) for c in ("open", "high", "low", "close", "volume")}}
            for ts, row in tail.iterrows()]


def _champion_model(trained):
    from candor.services import open_services
    from tests.api.conftest import _config

    with open_services(_config(trained.home)) as services:
        return services.registry.champion(trained.symbol, trained.timeframe).model


def test_predict_matches_the_champion_on_the_same_bars(client, trained):
    payload = {"symbol": trained.symbol, "timeframe": trained.timeframe, "bars": _bars_json(trained.bars)}
    response = client.post("/api/predict", json=payload, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = _champion_model(trained).predict(trained.bars.iloc[-PREDICT_BARS:])[-1]
    # the model's direction, or NONE with the reason when its conformal set or its edge says abstain
    assert body["direction"] == ("NONE" if body["abstain_reason"] else expected.direction)
    assert body["direction"] == "NONE" or body["prediction_set"] == [expected.direction]
    assert body["probabilities"] == pytest.approx(expected.probabilities)
    assert body["confidence"] == pytest.approx(expected.confidence)
    assert body["bar_ts"].startswith(str(trained.bars.index[-1].date()))
    assert (body["model_name"], body["model_version"], body["horizon"]) == (trained.name, "2", 5)


@pytest.mark.parametrize("mutate, needle", [
    (lambda bars: bars[3].pop("close"), "bars[3].close: Field required"),
    (lambda bars: bars[5].update(low=-1.0), "bars[5].low: Input should be greater than 0"),
    (lambda bars: bars[7].update(volume="lots"), "bars[7].volume"),
    (lambda bars: bars[9].update(high=bars[9]["low"] / 2), "bars[9]: Value error, high"),
    (lambda bars: bars[2].update(ts=bars[1]["ts"]), "ts must increase: bar 2"),
    (lambda bars: bars[4].update(spread=1.0), "bars[4].spread: Extra inputs are not permitted"),
])
def test_malformed_bars_are_422_naming_the_column(client, trained, mutate, needle):
    bars = _bars_json(trained.bars, 50)
    mutate(bars)
    response = client.post("/api/predict", json={"symbol": trained.symbol, "timeframe": "d1", "bars": bars}, headers=AUTH)
    assert response.status_code == 422
    assert needle in response.json()["message"], response.json()["message"]


def test_too_few_bars_for_the_features_is_422(client, trained):
    response = client.post("/api/predict", json={"symbol": trained.symbol, "timeframe": "d1",
                                                  "bars": _bars_json(trained.bars, 5)}, headers=AUTH)
    assert response.status_code == 422 and "need at least" in response.json()["detail"]


def test_predict_needs_the_token_refuses_big_bodies_and_the_wrong_timeframe(client, trained):
    payload = {"symbol": trained.symbol, "timeframe": "d1", "bars": _bars_json(trained.bars)}
    assert client.post("/api/predict", json=payload).status_code == 401  # a token is configured
    big = client.post("/api/predict", content=b"x" * (3 * 1024 * 1024), headers={**AUTH, "Content-Type": "application/json"})
    assert big.status_code == 413 and "MB" in big.json()["detail"]
    too_many = {**payload, "bars": _bars_json(trained.bars, 600) * 9}  # 5,400 bars > MAX_PREDICT_BARS
    refused = client.post("/api/predict", json=too_many, headers=AUTH)
    assert refused.status_code == 422 and "5000" in refused.json()["message"]
    hourly = [{**b, "ts": (pd.Timestamp("2024-01-02T00:00", tz="UTC") + pd.Timedelta(hours=i)).isoformat()}
              for i, b in enumerate(payload["bars"])]
    wrong = client.post("/api/predict", json={**payload, "bars": hourly}, headers=AUTH)
    assert wrong.status_code == 422 and "spaced as h1" in wrong.json()["detail"]


def test_predict_unknown_symbol_is_404_and_bad_symbol_422(client, trained):
    bars = _bars_json(trained.bars, 30)
    response = client.post("/api/predict", json={"symbol": "NOPE", "timeframe": "d1", "bars": bars}, headers=AUTH)
    assert response.status_code == 404 and "no champion for NOPE/d1" in response.json()["detail"]
    response = client.post("/api/predict", json={"symbol": "../x", "timeframe": "d1", "bars": bars}, headers=AUTH)
    assert response.status_code == 422 and response.json()["message"].startswith("symbol:")


@pytest.mark.parametrize("headers, status, needle", [
    ({}, 401, "missing bearer token"),
    ({"Authorization": "Basic " + TOKEN}, 401, "missing bearer token"),
    ({"Authorization": "Bearer wrong"}, 403, "wrong bearer token"),
    ({"Authorization": f"Bearer {TOKEN}x"}, 403, "wrong bearer token"),
])
def test_write_endpoints_need_the_token(writable_client, trained, headers, status, needle):
    for url, body in ((f"/api/registry/{trained.name}/promote", {"version": "1", "force": True}),
                      (f"/api/registry/{trained.name}/rollback", {})):
        response = writable_client.post(url, json=body, headers=headers)
        assert response.status_code == status and needle in response.json()["detail"]
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert writable_client.get("/api/models").json()[0]["champion"] == "2"  # nothing moved


def test_without_a_configured_token_writes_are_disabled(writable_home, trained):
    from fastapi.testclient import TestClient

    app, services = open_app(writable_home, token=None)
    with TestClient(app) as client:
        response = client.post(f"/api/registry/{trained.name}/rollback", json={}, headers=AUTH)
        assert response.status_code == 403 and "CANDOR_API_TOKEN" in response.json()["detail"]
    services.close()


def test_rollback_then_promote_are_audited(writable_client, trained):
    response = writable_client.post(f"/api/registry/{trained.name}/rollback", json={"reason": "live accuracy"},
                                    headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["version"] == "1"
    model = writable_client.get("/api/models").json()[0]
    assert (model["champion"], model["previous"]) == ("1", "2")
    response = writable_client.post(f"/api/registry/{trained.name}/promote", headers=AUTH,
                                    json={"version": "2", "force": True, "reason": "back"})
    assert response.status_code == 200 and response.json()["version"] == "2"
    events = writable_client.get(f"/api/models/{trained.symbol}/{trained.timeframe}").json()["alias_events"]
    assert [(e["action"], e["actor"], e["reason"]) for e in events[-4:]] == [
        ("rollback", "api", "live accuracy"), ("rollback", "api", "live accuracy"),
        ("force_promote", "api", "back"), ("force_promote", "api", "back")]


def test_promote_refusals_are_409_and_unknown_model_404(writable_client, trained):
    response = writable_client.post(f"/api/registry/{trained.name}/promote", json={"version": "1"}, headers=AUTH)
    assert response.status_code == 409 and "only validated versions are promoted" in response.json()["detail"]
    response = writable_client.post(f"/api/registry/{trained.name}/promote", json={"version": "2", "force": True},
                                    headers=AUTH)
    assert response.status_code == 409 and "already the champion" in response.json()["detail"]
    response = writable_client.post(f"/api/registry/{trained.name}/promote", json={"version": "9", "force": True},
                                    headers=AUTH)
    assert response.status_code == 404 and "unknown version 9" in response.json()["detail"]
    response = writable_client.post("/api/registry/candor.NOPE.d1/rollback", json={}, headers=AUTH)
    assert response.status_code == 404 and "unknown model" in response.json()["detail"]


@pytest.mark.parametrize("name, body", [
    ("..%2Fetc", {"version": "1"}), ("candor.PLANT.d9", {"version": "1"}), ("PLANT", {"version": "1"}),
    ("candor.PLANT.d1", {"version": "latest"}), ("candor.PLANT.d1", {"version": "1", "extra": 1}),
])
def test_registry_inputs_are_validated(writable_client, name, body):
    response = writable_client.post(f"/api/registry/{name}/promote", json=body, headers=AUTH)
    assert response.status_code in (404, 422)
    assert response.status_code == 422 or name.startswith("..")


@pytest.fixture
def horizons_writable_client(horizons_home, tmp_path):
    import shutil

    from fastapi.testclient import TestClient

    home = tmp_path / "home"
    home.mkdir()
    for name in ("candor.db", "mlflow.db"):
        shutil.copy(horizons_home / name, home / name)
    app, services = open_app(home)
    with TestClient(app) as test_client:
        yield test_client
    services.close()


def test_a_horizon_model_is_promoted_and_rolled_back_by_its_name(horizons_writable_client):
    client = horizons_writable_client
    response = client.post("/api/registry/candor.PLANT.d1.h1/promote", headers=AUTH,
                           json={"version": "2", "force": True, "reason": "horizon"})
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["version"]) == ("candor.PLANT.d1.h1", "2")
    champions = {m["name"]: (m["champion"], m["previous"]) for m in client.get("/api/models").json()}
    assert champions == {"candor.PLANT.d1.h1": ("2", "1"), "candor.PLANT.d1": ("2", "1")}  # h5 untouched
    response = client.post("/api/registry/candor.PLANT.d1.h1/rollback", headers=AUTH, json={"reason": "back"})
    assert response.status_code == 200 and response.json()["version"] == "1", response.text
    events = client.get("/api/models/PLANT/d1?horizon=1").json()["alias_events"]
    assert [(e["model_name"], e["action"], e["reason"]) for e in events[-2:]] == [
        ("candor.PLANT.d1.h1", "rollback", "back")] * 2


@pytest.mark.parametrize("name", ["candor.PLANT.d1.h5", "candor.PLANT.d1.h0", "candor.PLANT.d1.h01",
                                  "candor.PLANT.d1.hx", "candor.PLANT.h20"])
def test_names_model_name_cannot_build_are_422(writable_client, name):
    response = writable_client.post(f"/api/registry/{name}/rollback", json={}, headers=AUTH)
    assert response.status_code == 422, response.text
    assert writable_client.get("/api/models").json()[0]["champion"] == "2"  # nothing moved


@pytest.mark.parametrize("symbol, timeframe, horizon", [
    ("SPX", "d1", 5), ("SPX", "d1", 20), ("BRK.B", "h1", 1), ("BTC-USDT", "m5", 5), ("H1", "h1", 3),
])
def test_parse_model_name_inverts_model_name(symbol, timeframe, horizon):
    from candor.registry.common import ModelRef, model_name, parse_model_name

    name = model_name(symbol, timeframe, horizon)
    assert parse_model_name(name) == ModelRef(symbol, timeframe, horizon) and parse_model_name(name).name == name
    import re

    from candor.api.schemas import MODEL_NAME_PATTERN
    assert re.match(MODEL_NAME_PATTERN, name)  # the URL filter lets every buildable name through


def test_parse_model_name_refuses_what_model_name_never_builds():
    from candor.errors import RegistryError
    from candor.registry.common import parse_model_name

    for name in ("candor.SPX", "candor.SPX.d9", "other.SPX.d1", "candor.SPX.d1.h5", "candor..d1"):
        with pytest.raises(RegistryError, match=r"is not a candor model; use candor\.<SYMBOL>\.<timeframe>\[\.h"):
            parse_model_name(name)
