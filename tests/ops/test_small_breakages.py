"""Issue 25 item 8's small breakages: the gap-policy advice, the GPU install hint, plot/trades file
modes and a study storage pointed at candor's own database."""

from __future__ import annotations

import pandas as pd
import pytest


def test_a_flagged_forecast_does_not_advise_setting_the_flag_it_runs_under():
    from candor.data.synthetic import planted_signal
    from candor.ops.forecast import stale_reason

    bars = planted_signal(60, seed=1)
    bars.attrs["calendar"] = "24/7"
    now = bars.index[-1] + pd.Timedelta(days=10)
    assert "set forecast.gap_policy = 'flag'" in stale_reason(bars, now)
    flagged = stale_reason(bars, now, "flag")
    assert "set forecast.gap_policy" not in flagged and "forecast anyway (forecast.gap_policy = 'flag')" in flagged


def test_the_cuda_fallback_warning_names_the_gpu_extra(monkeypatch, capsys):
    import candor.cli.train as train_cli
    import candor.training.device as device
    from candor.config import load_config

    choice = device.DeviceChoice("cuda", "cpu", f"no CUDA; {device.GPU_INSTALL_HINT}")
    monkeypatch.setattr(device, "resolve_device", lambda _requested: choice)
    monkeypatch.setattr(train_cli.err_console, "width", 300)
    train_cli._probe_device(load_config(environ={}), quiet=False)
    assert "pip install 'candor[gpu]'" in capsys.readouterr().err  # Rich used to eat "[gpu]" as a tag


def test_plot_and_trades_files_get_the_umask_mode_not_0600(tmp_path):
    from candor.backtest.plots import _atomic
    from candor.outputs import _umask

    for name in ("equity.png", "trades.csv"):
        path = _atomic(tmp_path / name, lambda tmp: open(tmp, "w").write("x"))
        assert path.stat().st_mode & 0o777 == 0o666 & ~_umask() != 0o600


def test_a_study_storage_on_candors_database_is_refused_in_one_clear_line(tmp_path):
    import sqlalchemy as sa

    from candor.errors import StoreError
    from candor.training.tuning import open_storage

    url = f"sqlite:///{tmp_path / 'candor.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:  # what candor's migrations leave: its tables and its revision
        connection.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        connection.execute(sa.text("INSERT INTO alembic_version VALUES ('0007_candor')"))
        connection.execute(sa.text("CREATE TABLE ml_forecasts (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(StoreError, match="is candor's operational database.*must be a separate database"):
        open_storage(url)
