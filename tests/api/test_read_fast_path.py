"""The read path under load, piece by piece: the JSON endpoints' own serialization is byte for byte
what FastAPI's ``response_model`` path sent; the cached ``/api/forecasts`` bytes show a new row and
a resolution on the next read; the registry snapshot is served stale only when it is merely old
(never when the store mark moved); the app's startup freezes the GC and bounds the threadpool."""

from __future__ import annotations

import datetime as dt
import gc
import threading
import time

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient


def _old_app(services) -> FastAPI:
    """The endpoints as they were: ORM rows validated per row, then FastAPI's ``response_model``."""
    from candor.api import queries
    from candor.api.schemas import DriftOut, ForecastRowOut, TrainingRunOut
    from candor.store import TrainingRun, drift_rows, latest_training_runs

    app = FastAPI()

    @app.get("/api/forecasts", response_model=list[ForecastRowOut])
    def forecasts(symbol: str | None = None, limit: int = 1000) -> list[ForecastRowOut]:
        rows = queries.forecast_rows(services.engine, symbol=symbol, limit=limit)
        return [ForecastRowOut.model_validate(r) for r in rows]

    @app.get("/api/drift", response_model=list[DriftOut])
    def drift() -> list[DriftOut]:
        return [DriftOut.model_validate(r) for r in drift_rows(services.engine)]

    @app.get("/api/training-runs", response_model=list[TrainingRunOut])
    def runs(include_report: bool = False) -> list[TrainingRunOut]:
        if include_report:
            return [TrainingRunOut.model_validate(r) for r in latest_training_runs(services.engine, limit=50)]
        columns = [c.name for c in TrainingRun.__table__.columns if c.name != "report"]
        return [TrainingRunOut.model_validate({**{c: getattr(r, c) for c in columns}, "report": None})
                for r in queries.runs_without_reports(services.engine, limit=50)]

    return app


@pytest.mark.parametrize("path", ["/api/forecasts", "/api/forecasts?limit=7", "/api/forecasts?symbol=PLANT",
                                  "/api/forecasts?limit=5000", "/api/drift", "/api/training-runs",
                                  "/api/training-runs?include_report=true"])
def test_the_fast_path_sends_the_bytes_the_response_model_path_sent(client, path):
    services = client.app.state.services
    fast = client.get(path)
    with TestClient(_old_app(services)) as old_client:
        old = old_client.get(path)
    assert fast.status_code == old.status_code == 200
    assert fast.headers["content-type"] == old.headers["content-type"] == "application/json"
    assert fast.content == old.content
    assert len(fast.json()) > 0


def test_cached_forecasts_show_a_new_row_and_a_resolution_on_the_next_read(writable_client, monkeypatch):
    from candor.api import queries
    from candor.store import Resolution, resolve_forecasts, upsert_forecasts

    services = writable_client.app.state.services
    before = writable_client.get("/api/forecasts").json()
    assert writable_client.get("/api/forecasts").json() == before  # served from the cache
    newest = before[-1]
    upsert_forecasts(services.engine, [{
        "symbol": newest["symbol"], "timeframe": newest["timeframe"], "horizon": newest["horizon"],
        "bar_ts": pd.Timestamp(newest["bar_ts"]).to_pydatetime() + dt.timedelta(days=1), "direction": "BULLISH",
        "probabilities": {"BEARISH": 0.1, "NEUTRAL": 0.2, "BULLISH": 0.7}, "confidence": 0.7,
        "model_name": newest["model_name"], "model_version": newest["model_version"]}])
    added = writable_client.get("/api/forecasts").json()
    assert added[-1]["direction"] == "BULLISH" and added[-1]["bar_ts"] > newest["bar_ts"]
    open_row = next(r for r in added if r["realized_direction"] is None)
    resolve_forecasts(services.engine, [Resolution(open_row["id"], "BEARISH", -0.01)])
    resolved = {r["id"]: r for r in writable_client.get("/api/forecasts").json()}
    assert resolved[open_row["id"]]["realized_direction"] == "BEARISH"
    # An unresolved forecast replaced in place moves no mark: it shows after DATA_MAX_AGE_S.
    monkeypatch.setattr(queries, "DATA_MAX_AGE_S", 0.2)
    still_open = next(r for r in resolved.values() if r["realized_direction"] is None)
    upsert_forecasts(services.engine, [{
        "symbol": still_open["symbol"], "timeframe": still_open["timeframe"], "horizon": still_open["horizon"],
        "bar_ts": pd.Timestamp(still_open["bar_ts"]).to_pydatetime(), "direction": "NEUTRAL",
        "probabilities": {"BEARISH": 0.2, "NEUTRAL": 0.6, "BULLISH": 0.2}, "confidence": 0.6,
        "model_name": still_open["model_name"], "model_version": still_open["model_version"]}], replace=True)
    writable_client.get("/api/forecasts")
    time.sleep(0.3)
    writable_client.get("/api/forecasts")  # this reader refreshes the value (it kept the old one meanwhile)
    replaced = {r["id"]: r for r in writable_client.get("/api/forecasts").json()}
    assert replaced[still_open["id"]]["direction"] == "NEUTRAL"
    assert replaced[still_open["id"]]["confidence"] == pytest.approx(0.6)


class _SlowModels:
    """``list_models`` for a RegistryState: returns the current answer, blocking while ``gate`` is shut."""

    def __init__(self) -> None:
        from candor.registry.common import ModelSummary

        self.summary = ModelSummary
        self.champion = "1"
        self.gate = threading.Event()
        self.gate.set()
        self.calls = 0

    def __call__(self):
        self.calls += 1
        self.gate.wait(timeout=30)
        return [self.summary("candor.FAKE.d1", 2, "2", self.champion, None)]


def test_an_old_snapshot_is_served_while_one_reader_rebuilds_but_a_moved_mark_waits(writable_home):
    from candor.config import load_config
    from candor.registry.state import RegistryState
    from candor.services import open_services
    from candor.store import record_alias_event

    config = load_config(overrides={"home": str(writable_home)}, environ={})
    with open_services(config) as services:
        models = _SlowModels()
        state = RegistryState(services.engine, models, lambda name: [], max_age_s=0.1)
        assert state.models()[0].champion == "1" and state.rebuilds == 1
        time.sleep(0.15)  # old now, nothing moved
        models.gate.clear()
        models.champion = "2"  # changed outside candor (no store row): picked up by the age rebuild
        rebuilder = threading.Thread(target=state.models)
        rebuilder.start()
        deadline = time.monotonic() + 10
        while models.calls < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert models.calls == 2, "the first reader of the old snapshot rebuilds it"
        started = time.monotonic()
        assert state.models()[0].champion == "1", "a reader meanwhile keeps the old snapshot"
        assert time.monotonic() - started < 1, "and does not wait for the rebuild"
        # Now a promotion elsewhere moves the mark: nobody may be served the old snapshot.
        record_alias_event(services.engine, model_name="candor.OTHER.d1", alias="champion", action="promote",
                           from_version=None, to_version="1", actor="other-process")
        answers: list[str | None] = []
        waiter = threading.Thread(target=lambda: answers.append(state.models()[0].champion))
        waiter.start()
        waiter.join(timeout=0.3)
        assert waiter.is_alive() and not answers, "a moved mark waits for the rebuild in flight"
        models.gate.set()
        rebuilder.join(timeout=10)
        waiter.join(timeout=10)
        assert answers == ["2"]
        assert state.models()[0].champion == "2"


def test_a_derived_value_is_computed_once_while_others_wait_or_keep_the_old_one(writable_home):
    from candor.config import load_config
    from candor.registry.state import RegistryState
    from candor.services import open_services

    config = load_config(overrides={"home": str(writable_home)}, environ={})
    with open_services(config) as services:
        state = RegistryState(services.engine, _SlowModels(), lambda name: [])
        mark = [1]
        gate = threading.Event()
        computed: list[int] = []

        def compute() -> int:
            computed.append(mark[0])
            gate.wait(timeout=30)
            return mark[0]

        gate.set()
        assert state.derived("k", lambda: tuple(mark), compute, 0.1) == 1
        time.sleep(0.15)
        gate.clear()
        slow = threading.Thread(target=state.derived, args=("k", lambda: tuple(mark), compute, 0.1))
        slow.start()
        while len(computed) < 2:
            time.sleep(0.01)
        assert state.derived("k", lambda: tuple(mark), compute, 0.1) == 1, "only old: the old value meanwhile"
        assert len(computed) == 2
        mark[0] = 2
        answers: list[int] = []
        waiter = threading.Thread(
            target=lambda: answers.append(state.derived("k", lambda: tuple(mark), compute, 0.1)))
        waiter.start()
        waiter.join(timeout=0.3)
        assert waiter.is_alive(), "a moved mark waits for the computation in flight"
        gate.set()
        slow.join(timeout=10)
        waiter.join(timeout=10)
        assert answers == [2] and computed == [1, 1, 2]


def test_startup_freezes_the_gc_and_bounds_the_threadpool(client):
    from candor.api.app import THREADS

    assert gc.get_freeze_count() > 0
    assert client.portal.call(_tokens) == THREADS


async def _tokens() -> int:
    import anyio.to_thread

    return anyio.to_thread.current_default_thread_limiter().total_tokens


def test_a_post_without_content_length_is_411_and_reads_need_none(writable_client):
    def chunks():
        yield b'{"symbol": "PLANT", "timeframe": "d1", "bars": []}'

    response = writable_client.post("/api/predict", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 411 and "Content-Length" in response.json()["detail"]
    assert writable_client.get("/api/models").status_code == 200
