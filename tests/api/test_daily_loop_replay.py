"""The daily-loop replay's machinery (benchmarks/daily_loop_replay.py, issue 24 Done-when) on 2
sessions of the session's trained home, with a shadow: each session imports its bar, forecasts
(champion and shadow rows) and runs drift; the figures and the results section come out of it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from tests.api.conftest import _config

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "daily_loop_replay.py"


def _replay_module():
    spec = importlib.util.spec_from_file_location("daily_loop_replay", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_two_sessions_of_the_daily_loop(writable_home, trained) -> None:
    from candor.services import open_services
    from candor.store import forecasts, import_bars

    replay = _replay_module()
    bars = trained.bars
    with open_services(_config(writable_home)) as services:
        registry = services.registry
        champion = str(registry.version(trained.name, "champion").version)
        other = "1" if champion != "1" else "2"
        registry.client.set_model_version_tag(trained.name, other, "status", "validated")
        registry.shadow(trained.name, other, actor="test")
        import_bars(services.engine, replay._slice(bars, None, len(bars) - 2))
        loop = replay.Loop(services, bars, len(bars) - 2, trained.name, champion, other)
        sessions = replay.run_sessions(loop, 2)
        assert [s["bar"] for s in sessions] == list(bars.index[-2:]) and all(s["written"] >= 1 for s in sessions)
        shadow_rows = forecasts(services.engine, trained.symbol, trained.timeframe, shadow=True)
        assert [r.bar_ts for r in shadow_rows] == list(bars.index[-2:])  # the shadow forecast each new bar
        # the drift job compared the shadow (its newest forecasts resolve only once later bars arrive)
        assert "too few common resolved forecasts" in sessions[-1]["shadows"][0]
        figures = replay.loop_figures(loop)
        assert figures["forecasts"] >= 120 and figures["shadow"].shadow == other
        ledger = figures["paper"].ledger
        assert ledger is not None and ledger.n_forecasts >= 100
        assert ledger.booked_days == ledger.n_days and ledger.booking_note is None  # the drift job booked them
        cover = {"n": 40, "coverage": 0.9, "mean_set_size": 1.5, "abstained": 3, "start": bars.index[0],
                 "end": bars.index[40], "version": champion}
        text = replay.section([replay.block(loop, figures, cover, [])], 1.0)
        assert "replay: set coverage, 40 forecasts" in text and "90.0%" in text and "**Paper ledger**" in text
        assert text.count("### ") == 1 and f"v{champion} (out-of-sample" in text  # the champion's verdict, stated


def test_the_planted_series_is_one_where_sets_can_hold_one_class(tmp_path) -> None:
    replay = _replay_module()
    planted = replay.SERIES["planted"]
    bars = planted.bars(300)
    assert len(bars) == 300 and bars.attrs["timeframe"] == "d1"
    config = replay.config_for(tmp_path, planted.overrides)
    assert config.labels.kind == "binary" and config.forecast.abstain_without_edge  # the edge rule stays on
    assert not replay.config_for(tmp_path).forecast.abstain_without_edge  # sp500: no edge, wide sets decide
