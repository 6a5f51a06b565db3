"""A shadow version's forecasts (issue 24 item 3): the forecast job writes them beside the
champion's, flagged; /api/forecasts, the latest-forecast views and consensus never serve them."""

from __future__ import annotations


import datetime as dt

from tests.api.conftest import _config


def test_forecast_job_writes_champion_and_shadow_rows_and_serves_only_the_champion(trained, writable_home) -> None:
    from candor.api.queries import forecast_rows, latest_forecasts
    from candor.ops.forecast import run_forecasts
    from candor.services import open_services
    from candor.store import forecasts

    bars = trained.bars.iloc[:-130]  # the fixture already forecast the newest 120 bars
    with open_services(_config(writable_home)) as services:
        registry = services.registry
        champion = registry.version(trained.name, "champion")
        other = "1" if str(champion.version) != "1" else "2"
        registry.client.set_model_version_tag(trained.name, other, "status", "validated")  # the fixture forced it
        registry.shadow(trained.name, other, actor="test")
        report = run_forecasts(services, symbols=[trained.symbol], timeframes=[trained.timeframe],
                               bars_loader=lambda s, tf: bars, now=(bars.index[-1] + dt.timedelta(hours=25)).to_pydatetime())
        assert report.written == 2, report.skipped
        assert [(f.model_version, f.shadow) for f in report.shadows] == [(other, True)]
        assert all(not f.shadow for f in report.forecasts)
        rows = [r for r in forecasts(services.engine, trained.symbol, trained.timeframe, shadow=None)
                if r.bar_ts == bars.index[-1]]
        assert sorted((r.shadow, r.model_version) for r in rows) == [(False, str(champion.version)), (True, other)]
        shadow_row = next(r for r in rows if r.shadow)
        assert shadow_row.consensus_direction is None  # no vote
        assert all(not r.shadow for r in forecasts(services.engine, trained.symbol, trained.timeframe))
        served = forecast_rows(services.engine, symbol=trained.symbol, limit=5000)
        assert served and all(not r.shadow for r in served)
        assert all(not r.shadow for r in latest_forecasts(services.engine).values())
