"""The paper ledger (issue 24 item 4): served forecasts traded under the backtest convention, on
synthetic bars whose P&L is computed by hand — three bars long then flat, abstain = flat, and the
one-line refusal of a series with no forecasts."""

from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import pytest

from candor.backtest.config import BacktestConfig
from candor.backtest.metrics import sharpe_interval
from candor.cli import main
from candor.data.bars import make_bars
from candor.errors import DataError
from candor.ops.paper import paper_ledger
from candor.store import forecasts, import_bars, make_engine, resolve_forecasts, upgrade, upsert_forecasts
from candor.store.forecasts import Resolution

DAY = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
#: Opens: bars 1→2→3→4 rise 10% each, then 4→5 and 5→6 fall (those periods are flat in the ledger).
OPENS = [100.0, 100.0, 110.0, 121.0, 133.1, 100.0, 50.0]
FREE = BacktestConfig(cost_bps=0.0)


def _bars():
    index = pd.date_range(DAY, periods=len(OPENS), freq="D")
    frame = pd.DataFrame({"open": OPENS, "high": [o * 1.5 for o in OPENS], "low": [o * 0.5 for o in OPENS],
                          "close": OPENS, "volume": 1.0}, index=index)
    return make_bars(frame, "SYN", "d1", "24/7")


def _row(i: int, direction: str, shadow: bool = False) -> dict:
    return {"symbol": "SYN", "timeframe": "d1", "horizon": 1, "bar_ts": DAY + dt.timedelta(days=i),
            "direction": direction, "abstain_reason": "wide set" if direction == "NONE" else None,
            "confidence": 0.6, "model_name": "candor.SYN.d1", "model_version": "1", "shadow": shadow}


def _store(tmp_path, directions, *, shadow_directions=()):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    engine = make_engine(url)
    import_bars(engine, _bars())
    upsert_forecasts(engine, [_row(i, d) for i, d in enumerate(directions)]
                     + [_row(i, d, True) for i, d in enumerate(shadow_directions)])
    rows = forecasts(engine, "SYN", "d1", shadow=None)
    resolve_forecasts(engine, [Resolution(r.id, "BULLISH") for r in rows])
    return url, engine


LONG_THEN_ABSTAIN = ["BULLISH", "BULLISH", "BULLISH", "NONE", "NONE"]


def test_three_bars_long_then_abstain_is_flat(tmp_path):
    _, engine = _store(tmp_path, LONG_THEN_ABSTAIN, shadow_directions=["BEARISH"] * 5)
    [ledger] = paper_ledger(engine, "SYN", "d1", config=FREE, backtest_sharpe=lambda *_: 1.5)
    assert ledger.n_periods == ledger.n_days == 5 and ledger.abstained == 2 and ledger.n_forecasts == 5
    assert ledger.live_return == pytest.approx(1.1 ** 3 - 1)  # +10% three times, then flat through the fall
    assert ledger.buy_and_hold == pytest.approx(50.0 / 100.0 - 1)  # open of bar 1 → open of bar 6
    assert [d.position for d in ledger.days] == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert [d.live_return for d in ledger.days] == pytest.approx([0.1, 0.1, 0.1, 0.0, 0.0])
    assert ledger.days[0].day == "2024-01-03"  # the period of bar 0's forecast ends at bar 2's open
    assert ledger.backtest_sharpe == 1.5 and ledger.models == ("candor.SYN.d1 v1",)
    assert ledger.model_dump(mode="json")["days"][3]["buy_and_hold"] == pytest.approx(100.0 / 133.1 - 1)


def test_costs_are_the_backtests(tmp_path):
    _, engine = _store(tmp_path, LONG_THEN_ABSTAIN)
    [ledger] = paper_ledger(engine, "SYN", "d1", config=BacktestConfig(cost_bps=10.0))
    assert ledger.live_return == pytest.approx((1.1 - 0.001) * 1.1 * 1.1 * (1 - 0.001) - 1)  # in and out


def test_an_abstention_is_flat_where_a_call_would_have_traded(tmp_path):
    _, engine = _store(tmp_path, ["NONE"] * 5)
    [ledger] = paper_ledger(engine, "SYN", "d1", config=FREE)
    assert ledger.live_return == 0.0 and ledger.abstained == 5 and ledger.live_sharpe in (0.0, None)
    assert all(d.position == 0.0 for d in ledger.days)


def test_sharpe_interval_brackets_the_estimate():
    low, high = sharpe_interval(0.1, 0.0, 3.0, 253, 252.0)
    assert low < 0.1 * math.sqrt(252) < high and high - low == pytest.approx(2 * 1.96 * math.sqrt(252 * 1.005 / 252),
                                                                               rel=1e-3)
    assert sharpe_interval(0.1, 0.0, 3.0, 2, 252.0) is None


def test_no_forecasts_is_one_line(tmp_path, monkeypatch, capsys):
    url, engine = _store(tmp_path, [])
    with pytest.raises(DataError, match="no resolved forecasts for SYN/d1"):
        paper_ledger(engine, "SYN", "d1")
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "--symbol", "SYN", "--timeframe", "d1", "--url", url, "--no-registry"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no resolved forecasts for SYN/d1") and len(err.splitlines()) == 1


def test_cli_table_and_json(tmp_path, monkeypatch, capsys):
    url, _ = _store(tmp_path, LONG_THEN_ABSTAIN)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "candor.toml").write_text("[backtest]\ncost_bps = 0\n")
    out = tmp_path / "paper.json"
    assert main(["paper", "--url", url, "--no-registry", "--output-json", str(out)]) == 0
    assert "SYN/d1 h1" in capsys.readouterr().out
    [ledger] = json.loads(out.read_text())["ledgers"]
    assert ledger["live_return"] == pytest.approx(0.331) and ledger["abstained"] == 2 and len(ledger["days"]) == 5


def test_cli_reads_the_champions_backtest_sharpe(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import candor.services

    url, _ = _store(tmp_path, LONG_THEN_ABSTAIN)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlflow.db").touch()
    (tmp_path / "candor.toml").write_text(f'database_url = "{url}"\ntracking_uri = "sqlite:///{tmp_path}/mlflow.db"\n'
                                          "[backtest]\ncost_bps = 0\n")
    report = SimpleNamespace(backtest=SimpleNamespace(sharpe=2.5))
    champion = SimpleNamespace(model=SimpleNamespace(manifest=SimpleNamespace(report=report)))
    asked = []
    registry = SimpleNamespace(champion=lambda *key: asked.append(key) or champion)
    monkeypatch.setattr(candor.services, "open_services",
                        lambda config: SimpleNamespace(registry=registry, close=lambda: None))
    out = tmp_path / "paper.json"
    assert main(["paper", "--symbol", "SYN", "--output-json", str(out)]) == 0
    [ledger] = json.loads(out.read_text())["ledgers"]
    assert asked == [("SYN", "d1", 1)] and ledger["backtest_sharpe"] == 2.5 and ledger["backtest_inside_ci"] is True
