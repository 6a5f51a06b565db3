"""The shadow challenger's comparison (issue 24 item 3): on synthetic resolved rows, the shadow is
promoted only when the paired test finds it significantly better than the champion."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np

from candor.ops.shadow import check_shadow, compare
from candor.store import forecasts, make_engine, resolve_forecasts, upgrade, upsert_forecasts
from candor.store.forecasts import Resolution

NAME = "candor.SYN.d1"
DAY = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
PROBS = {"BULLISH": {"bullish": 0.6, "neutral": 0.1, "bearish": 0.3},
         "BEARISH": {"bullish": 0.3, "neutral": 0.1, "bearish": 0.6}}


def _rows(truth: np.ndarray, hit: np.ndarray, version: str, shadow: bool) -> list[dict]:
    out = []
    for i, (up, ok) in enumerate(zip(truth, hit)):
        call = ("BULLISH" if up else "BEARISH") if ok else ("BEARISH" if up else "BULLISH")
        out.append({"symbol": "SYN", "timeframe": "d1", "horizon": 1, "bar_ts": DAY + dt.timedelta(days=i),
                    "direction": "NONE" if i % 7 == 0 else call, "abstain_reason": "wide set" if i % 7 == 0 else None,
                    "probabilities": PROBS[call], "confidence": 0.6, "model_name": NAME, "model_version": version,
                    "shadow": shadow})
    return out


class StubRegistry:
    def __init__(self) -> None:
        self.promoted: list[tuple[str, str, str]] = []

    def shadow_index(self) -> dict[str, str]:
        return {} if self.promoted else {NAME: "3"}

    def promote(self, name: str, version: str, *, actor: str, reason: str) -> None:
        self.promoted.append((name, version, reason))


def _services(engine, registry):
    config = SimpleNamespace(evaluation=SimpleNamespace(alpha=0.05, n_boot=200), drift=SimpleNamespace(min_samples=30),
                             alerts=SimpleNamespace(rollback_cooldown_hours=24.0))
    return SimpleNamespace(registry=registry, config=config, store=SimpleNamespace(engine=engine))


def _judge(tmp_path, champion_hits: float, shadow_hits: float, n: int = 300):
    rng = np.random.default_rng(7)
    truth = rng.random(n) < 0.5
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    engine = make_engine(url)
    upsert_forecasts(engine, _rows(truth, rng.random(n) < champion_hits, "2", False)
                     + _rows(truth, rng.random(n) < shadow_hits, "3", True))
    rows = forecasts(engine, "SYN", "d1", shadow=None)
    resolve_forecasts(engine, [Resolution(r.id, "BULLISH" if truth[(r.bar_ts - DAY).days] else "BEARISH")
                               for r in rows])
    registry = StubRegistry()
    champion = SimpleNamespace(name=NAME, version="2", horizon=1)
    result = check_shadow(_services(engine, registry), champion, "SYN", "d1")
    engine.dispose()
    return result, registry.promoted


def test_a_significantly_better_shadow_is_promoted_with_reason_and_p(tmp_path):
    result, promoted = _judge(tmp_path, 0.50, 0.65)
    assert result.n == 300 and result.significantly_better and result.promoted  # abstentions scored by the model's call
    [(name, version, reason)] = promoted
    assert (name, version) == (NAME, "3") and "significantly better" in reason and "p = " in reason
    assert "promoted" in result.summary()


def test_a_shadow_not_significantly_better_is_only_reported(tmp_path):
    result, promoted = _judge(tmp_path, 0.55, 0.57)
    assert not result.significantly_better and not result.promoted and promoted == []
    assert "not significantly different" in result.summary()


def test_too_few_common_rows_are_reported_not_tested():
    row = SimpleNamespace(bar_ts=DAY, realized_direction="BULLISH", direction="BULLISH",
                          prob_bearish=0.2, prob_neutral=0.1, prob_bullish=0.7)
    result = compare(NAME, 1, "2", "3", [row], [row], alpha=0.05, n_boot=200, min_samples=30)
    assert result.lift is None and "too few common resolved forecasts to compare (1 < drift.min_samples 30)" in result.summary()
