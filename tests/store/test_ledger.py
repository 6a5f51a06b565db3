"""The trial ledger (ledger_trials) on SQLite and PostgreSQL: append, count per target, read back as
records, summarise with the trials counted; no delete path, and a downgrade never drops rows."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command

import candor.store.ledger as ledger_module
from candor.errors import ConfigError, DataError
from candor.records.ledger import Trial
from candor.store.ledger import record_trial, summarise, trial_count, trials
from candor.store.migrate import alembic_config
from candor.store.schema import LedgerTrial

T0 = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


def _trial(**values) -> Trial:
    base = dict(symbol="SPX", timeframe="d1", horizon=5, label_kind="threshold", label="threshold ±0.10%",
                config_hash="abc123", data_first=dt.datetime(2010, 1, 1, tzinfo=dt.UTC),
                data_last=dt.datetime(2018, 12, 31, tzinfo=dt.UTC), n_samples=2000, n_trials=5, tuning_trials=0,
                prior_trials=0, lift=0.012, lift_ci_low=-0.004, lift_ci_high=0.028, p_value=0.04,
                verdict="no significant edge", sharpe=0.8, deflated_sharpe=0.55, command="candor train",
                actor="tester", candor_version="0.1.0", recorded_at=T0)
    return Trial(**{**base, **values})


def _rows(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(LedgerTrial)).scalar_one())


def test_a_trial_reads_back_as_the_record_it_was(engine) -> None:
    written = _trial(tuning_trials=200, n_trials=205, dry_run=True)
    row_id = record_trial(engine, written)
    [read] = trials(engine)
    assert read == written.model_copy(update={"id": row_id})
    assert read.recorded_at == T0 and read.recorded_at.tzinfo is not None


def test_the_count_sums_every_row_of_one_target_only(engine) -> None:
    assert trial_count(engine, "SPX", "d1", 5, "threshold") == 0
    record_trial(engine, _trial(n_trials=5))
    record_trial(engine, _trial(n_trials=3, recorded_at=T0 + dt.timedelta(days=1)))
    record_trial(engine, _trial(horizon=10, n_trials=7))        # another horizon: another target
    record_trial(engine, _trial(label_kind="binary", n_trials=11))  # another label kind: another target
    record_trial(engine, _trial(symbol="AAPL", n_trials=13))
    assert trial_count(engine, "SPX", "d1", 5, "threshold") == 8
    assert trial_count(engine, "SPX", "d1", 10, "threshold") == 7
    assert [t.n_trials for t in trials(engine, symbol="SPX", horizon=5, label_kind="threshold")] == [5, 3]
    assert [t.n_trials for t in trials(engine, symbol="SPX", since=T0 + dt.timedelta(hours=1))] == [3]


@pytest.mark.parametrize("change, pattern", [
    ({"symbol": "../x"}, r"`symbol` must be"),
    ({"timeframe": "d2"}, r"`timeframe` must be one of"),
    ({"n_trials": 0}, r"n_trials >= 1"),
    ({"lift": 1e400}, None),  # non-finite reads as None (a lenient Num): stored as NULL, not refused
])
def test_bad_trials_are_refused_before_anything_is_written(engine, change, pattern) -> None:
    if pattern is None:
        record_trial(engine, _trial(**change))
        assert trials(engine)[0].lift is None
        return
    with pytest.raises((DataError, ConfigError), match=pattern):
        record_trial(engine, _trial(**change))
    assert _rows(engine) == 0


def test_the_summary_counts_every_trial_and_corrects_the_best_p_value() -> None:
    rows = [_trial(id=1, n_trials=5, p_value=0.01, lift=0.02, sharpe=1.1, deflated_sharpe=0.9),
            _trial(id=2, n_trials=15, p_value=0.3, lift=-0.01, sharpe=0.2, deflated_sharpe=0.1, dry_run=True,
                   recorded_at=T0 + dt.timedelta(days=2)),
            _trial(id=3, symbol="AAPL", n_trials=1, p_value=None, lift=None, sharpe=None, deflated_sharpe=None)]
    aapl, spx = summarise(rows)
    assert (spx.target, spx.rows, spx.trials, spx.dry_runs) == ("SPX/d1/h5", 2, 20, 1)
    assert spx.best_lift == 0.02 and spx.best_p_value == 0.01 and spx.best_sharpe == 1.1
    assert spx.best_p_adjusted == pytest.approx(0.2)  # 20 trials × 0.01: the best of 20 judged as one of 20
    assert spx.latest_deflated_sharpe == 0.1 and spx.last == T0 + dt.timedelta(days=2)
    assert aapl.trials == 1 and aapl.best_p_value is None and aapl.best_p_adjusted is None


def test_nothing_erases_the_ledger(engine) -> None:
    """No delete or update path in the module, and a downgrade refuses to drop a ledger with rows."""
    assert not [name for name in dir(ledger_module) if any(w in name.lower() for w in ("delete", "update", "drop",
                                                                                         "erase", "purge"))]
    record_trial(engine, _trial())
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        with pytest.raises(RuntimeError, match="never dropped"):
            command.downgrade(config, "0001_initial")
        connection.rollback()
    assert _rows(engine) == 1
