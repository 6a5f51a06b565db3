"""The live panels (issue 24): the shadow challenger's paired comparison and the paper ledger, through
/api/shadow, /api/paper and the /live page — empty states as sentences — and the shadow's cool-down.

Reuses the session's trained home (champion v2 with 120 forecasts, most resolved); a copy gets the
bars and a shadow v1 whose calls are the realised directions, so it is significantly better."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import _config, open_app


def test_empty_states_are_sentences(client, trained) -> None:
    shadow = client.get(f"/api/shadow/{trained.symbol}/{trained.timeframe}").json()
    assert shadow["shadow"] is None and shadow["comparison"] is None
    assert shadow["note"].startswith(f"No shadow for {trained.name}: `candor registry shadow")
    paper = client.get(f"/api/paper/{trained.symbol}/{trained.timeframe}").json()
    assert paper["ledger"] is None and paper["note"].startswith("No paper ledger yet:")  # no bars stored
    page = client.get(f"/live/{trained.symbol}/{trained.timeframe}")
    assert page.status_code == 200 and 'id="shadow-empty"' in page.text and 'id="paper-empty"' in page.text
    assert client.get(f"/api/paper/{trained.symbol}/h4").status_code == 404  # no model there: named, not empty


def _with_shadow(home, trained) -> str:
    """Bars stored and a shadow v1 whose resolved forecasts call the realised direction."""
    from candor.services import open_services
    from candor.store import Resolution, forecasts, import_bars, resolve_forecasts, upsert_forecasts

    with open_services(_config(home)) as services:
        engine, registry = services.engine, services.registry
        import_bars(engine, trained.bars)
        champion = str(registry.version(trained.name, "champion").version)
        other = "1" if champion != "1" else "2"
        registry.client.set_model_version_tag(trained.name, other, "status", "validated")
        registry.shadow(trained.name, other, actor="test")
        rows = forecasts(engine, trained.symbol, trained.timeframe, resolved=True)
        upsert_forecasts(engine, [{
            "symbol": r.symbol, "timeframe": r.timeframe, "horizon": r.horizon, "bar_ts": r.bar_ts,
            "direction": r.realized_direction, "confidence": 0.9, "model_name": r.model_name,
            "model_version": other, "shadow": True,
            "probabilities": {d.lower(): 0.9 if d == r.realized_direction else 0.05
                              for d in ("BEARISH", "NEUTRAL", "BULLISH")}} for r in rows])
        truth = {r.bar_ts: r.realized_direction for r in rows}
        resolve_forecasts(engine, [Resolution(r.id, truth[r.bar_ts])
                                   for r in forecasts(engine, trained.symbol, trained.timeframe, shadow=True)])
        return other


def test_shadow_and_paper_panels_then_the_cooldown(writable_home, trained) -> None:
    from candor.ops.shadow import check_shadow
    from candor.registry.aliases import SHADOW
    from candor.store import alias_events

    other = _with_shadow(writable_home, trained)
    app, services = open_app(writable_home)
    with TestClient(app) as client:
        shadow = client.get(f"/api/shadow/{trained.symbol}/{trained.timeframe}").json()
        comparison = shadow["comparison"]
        assert shadow["shadow"] == other and comparison["verdict"] == "significantly better"
        assert comparison["shadow_accuracy"] == 1.0 and comparison["ci_low"] > 0 and comparison["p_value"] < 0.05
        assert comparison["n"] >= 100 and not comparison["promoted"]  # the panel never moves an alias
        paper = client.get(f"/api/paper/{trained.symbol}/{trained.timeframe}").json()["ledger"]
        assert paper["n_forecasts"] == comparison["n"] and len(paper["days"]) == paper["n_days"] > 50
        assert paper["backtest_sharpe"] is not None and len(paper["sharpe_ci"]) == 2
        page = client.get(f"/live/{trained.symbol}/{trained.timeframe}").text
        assert "Significantly better" in page and f"shadow v{other}" in page and 'id="paper-days"' in page
        assert '"chart-paper"' in page or 'id="chart-paper"' in page
        assert 'id="live-link"' in client.get(f"/forecasts/{trained.symbol}/{trained.timeframe}").text
        # the drift job's check: significantly better, but the fixture moved the champion just now
        champion = SimpleNamespace(name=trained.name, horizon=5,
                                   version=str(services.registry.version(trained.name, "champion").version))
        waited = check_shadow(services, champion, trained.symbol, trained.timeframe)
        assert waited.significantly_better and not waited.promoted and waited.note.startswith("waited:")
        last = alias_events(services.engine, trained.name, SHADOW)[-1]
        assert (last.to_version, last.actor) == (other, "candor-drift") and "rollback_cooldown_hours = 24" in last.reason
        assert services.registry.shadow_index()[trained.name] == other
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=24.5)
        assert check_shadow(services, champion, trained.symbol, trained.timeframe, now=later).promoted
        assert str(services.registry.version(trained.name, "champion").version) == other
        assert client.get(f"/api/shadow/{trained.symbol}/{trained.timeframe}").json()["shadow"] is None
    services.close()


def test_live_accuracy_leaves_abstentions_out() -> None:
    from candor.api.queries import live_accuracy

    day = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows = [SimpleNamespace(bar_ts=day + dt.timedelta(days=i), direction="NONE" if i % 2 else "BULLISH",
                            realized_direction="BULLISH") for i in range(6)]
    points = live_accuracy(rows, window=10, min_n=1)
    assert [p.n for p in points] == [1, 2, 3] and all(p.accuracy == 1.0 for p in points)


def _row(day: int, direction: str, realised: str | None, confidence: float = 0.6) -> SimpleNamespace:
    return SimpleNamespace(bar_ts=dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day),
                           direction=direction, realized_direction=realised, confidence=confidence,
                           abstain_reason="the 90% conformal set holds 2 classes" if direction == "NONE" else None)


def test_the_history_chart_draws_abstentions_apart_from_hits_and_misses() -> None:
    from candor.api.charts import ABSTAINED_ROW, BEAR, BULL, MUTED, forecast_history_chart

    rows = [_row(0, "BULLISH", "BULLISH"), _row(1, "BEARISH", "BULLISH"), _row(2, "NONE", "NEUTRAL"),
            _row(3, "NONE", None), _row(4, "BULLISH", None)]
    traces = {t["name"].split(" ")[0]: t for t in forecast_history_chart(rows)["data"]}
    calls, abstained = traces["call"], traces["abstained"]
    assert calls["marker"]["color"] == [BULL, BEAR, MUTED] and calls["y"] == [1, -1, 1]  # no abstention among them
    assert calls["marker"]["symbol"] == ["circle", "circle", "circle-open"]
    assert abstained["y"] == [ABSTAINED_ROW] * 2 and abstained["marker"]["color"] == MUTED  # never hit/miss colours
    assert abstained["marker"]["symbol"] == "circle-open" and "conformal set" in abstained["text"][0]
    axis = forecast_history_chart(rows)["layout"]["yaxis"]
    assert axis["ticktext"][0] == "abstained" and axis["range"][0] < ABSTAINED_ROW
    only_calls = forecast_history_chart(rows[:2])
    assert "abstained" not in only_calls["layout"]["yaxis"]["ticktext"] and len(only_calls["data"]) == 2


def test_live_accuracy_with_no_calls_is_a_sentence_and_a_flat_ledger_a_narrow_drawdown_axis() -> None:
    from candor.api.charts import drawdown_range, equity_chart, live_chart, live_empty
    from candor.api.queries import live_accuracy

    rows = [_row(i, "NONE", "BULLISH") for i in range(12)]
    drift = [SimpleNamespace(bar_ts=rows[-1].bar_ts, accuracy=None, status="insufficient")]
    assert live_chart(live_accuracy(rows), drift, 0.55) is None  # not an empty grid
    assert "none of the 12 resolved forecasts made a call" in live_empty(12, 0)
    assert live_empty(0, 0).startswith("Live accuracy: no forecast has resolved yet")
    assert live_chart([], [SimpleNamespace(bar_ts=rows[0].bar_ts, accuracy=0.6, status="normal")], None) is not None
    flat = equity_chart(["a", "b", "c"], [1.0, 1.0, 1.0], [1.0, 0.97, 1.02])["layout"]["yaxis2"]
    assert -0.02 < flat["range"][0] < 0 < flat["range"][1] < 0.001 and flat["tickformat"] == ".1%"  # not ±100%
    assert drawdown_range([0.0, -0.3, -0.1]) == pytest.approx([-0.33, 0.0165])


def test_live_calibration_leaves_abstentions_out() -> None:
    from candor.api.routes_pages import _calibration

    rows = [_row(i, "NONE", "BEARISH", 0.55) for i in range(20)] + [_row(i, "BULLISH", "BULLISH", 0.75)
                                                                      for i in range(20, 32)]
    bins, source = _calibration(None, lambda: rows)
    assert [(b.count, b.accuracy) for b in bins] == [(12, 1.0)] and source.startswith("live calls, n=12")
    assert _calibration(None, lambda: rows[:25]) is None  # 5 calls: too few to bin


def test_the_shadow_comparison_reads_a_binary_models_call_through_its_abstention() -> None:
    from candor.ops.shadow import model_call

    binary = SimpleNamespace(direction="NONE", prob_bearish=0.65, prob_neutral=None, prob_bullish=0.35)
    assert model_call(binary) == "BEARISH"  # not "NONE", which would count every abstention as a miss
    assert model_call(SimpleNamespace(direction="BULLISH", prob_bearish=None, prob_neutral=None,
                                      prob_bullish=None)) == "BULLISH"
