"""Replaying a saved model on later bars of the same generator; refusing its training span."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from candor.registry.artifact import load_model
from candor.backtest import BacktestConfig, run_backtest
from candor.backtest.replay import TrainingOverlapError, probabilities, replay, training_span
from candor.config import load_config
from candor.data.synthetic import planted_signal
from candor.errors import ConfigError, DataError
from candor.application.train import run_training

TRAIN_BARS = 900


def _slice(bars: pd.DataFrame, start: int | None = None, stop: int | None = None) -> pd.DataFrame:
    part = bars.iloc[start:stop].copy()
    part.attrs = dict(bars.attrs)
    return part


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """1,200 bars of a planted signal; a logreg model trained (and saved) on the first 900."""
    bars = planted_signal(1450, seed=1)  # 550 bars after the training span: past the 392-bar warm-up
    config = load_config(environ={}, overrides={"models": {"models": ("logreg",)}, "split": {"folds": 3},
                                                "evaluation": {"importance_repeats": 0}})
    outcome = run_training(_slice(bars, stop=TRAIN_BARS), config, out=tmp_path_factory.mktemp("models"), track=False)
    return bars, outcome, load_model(outcome.artifact)


def test_training_span_is_the_stored_data_span(trained):
    """The span comes from the manifest: the bars the training read, whatever bars are replayed."""
    bars, outcome, model = trained
    stored = model.manifest.data_span
    assert stored == outcome.result.data_span
    assert (stored.first_bar, stored.last_bar) == (bars.index[0], bars.index[TRAIN_BARS - 1])
    assert stored.holdout_end == outcome.result.holdout_proba.index[-1]
    span = training_span(model.manifest)
    assert (span.start, span.end) == (bars.index[0], bars.index[TRAIN_BARS - 1])
    holdout_end = outcome.result.holdout_proba.index[-1]
    assert span.end == bars.index[bars.index.get_loc(holdout_end) + model.label_spec.horizon]


def test_stored_span_refuses_overlap_even_without_the_training_prefix(trained):
    """Replay bars that start after the training's first bar still meet the recorded end."""
    bars, _, model = trained
    later = _slice(bars, start=300)
    inside = bars.index[TRAIN_BARS - 10]
    with pytest.raises(TrainingOverlapError, match=r"overlaps the model's training span .*recorded in the manifest"):
        replay(model, later, start=inside)
    assert replay(model, later).returns.index[0] > bars.index[TRAIN_BARS - 1]


def test_model_without_a_stored_span_is_refused_with_the_fix(trained):
    bars, _, model = trained
    old = copy.copy(model)
    old.manifest = model.manifest.model_copy(update={"data_span": None})  # what a format-1 manifest reads as
    with pytest.raises(DataError, match=r"PLANT/d1 model .* did not record which bars it was trained on.*"
                                        r"retrain it with this candor version"):
        replay(old, bars)
    start = bars.index[TRAIN_BARS + 5]
    assert replay(old, bars, start=start, allow_overlap=True).n_signals == len(bars) - TRAIN_BARS - 5


def test_replay_starts_after_training_and_matches_a_manual_backtest(trained):
    bars, _, model = trained
    result = replay(model, bars, BacktestConfig(cost_bps=2.0))
    first_signal = result.positions.index[0] - 2 * pd.Timedelta(days=1)  # reported 2 bars after the signal
    assert first_signal == bars.index[TRAIN_BARS]
    assert result.n_signals == len(bars) - TRAIN_BARS
    X = model.features(bars).iloc[TRAIN_BARS:]
    proba = pd.DataFrame(model.estimator.predict_proba(X), index=X.index, columns=model.estimator.classes_)
    manual = run_backtest(proba[[-1, 0, 1]], bars, BacktestConfig(cost_bps=2.0))
    assert manual.summary() == result.summary()
    assert result.metrics.n_trades > 0 and result.metrics.sharpe > 0  # the planted edge survives unseen bars


def test_replay_on_only_the_new_bars(trained):
    """A file of newer bars alone: features warm up inside it, no overlap."""
    bars, _, model = trained
    later = _slice(bars, start=950)
    result = replay(model, later, BacktestConfig())
    assert result.returns.index[0] > bars.index[TRAIN_BARS]
    assert 0 < result.n_signals == int(model.features(later).notna().all(axis=1).sum())


def test_overlap_is_refused_unless_allowed(trained):
    bars, _, model = trained
    inside = bars.index[TRAIN_BARS - 50]
    with pytest.raises(TrainingOverlapError, match=r"overlaps the model's training span .* not out of sample; "
                                                   r"start after .* or pass --allow-overlap"):
        replay(model, bars, start=inside)
    assert replay(model, bars, start=inside, allow_overlap=True).n_signals == len(bars) - TRAIN_BARS + 50
    assert replay(model, bars, start=bars.index[TRAIN_BARS]).n_signals == len(bars) - TRAIN_BARS
    with pytest.raises(DataError, match=r"the bars end at .* inside the model's training span"):
        replay(model, _slice(bars, stop=TRAIN_BARS))


def test_bad_input_is_one_clear_error(trained):
    bars, _, model = trained
    with pytest.raises(ConfigError, match="`start` must be a date such as 2019-01-31. Got 'soon'."):
        replay(model, bars, start="soon")
    hourly = planted_signal(400, seed=2, timeframe="h1")
    with pytest.raises(DataError, match=r"cannot be replayed on h1 bars: its signals would be misaligned"):
        replay(model, hourly)
    with pytest.raises(DataError, match=r"no bar from .* has complete features"):
        probabilities(model, _slice(bars, start=1100), bars.index[1100])
    nan_open = bars.copy()
    nan_open.iloc[1100, nan_open.columns.get_loc("open")] = np.nan
    with pytest.raises(DataError, match=r"bars 'open' price is nan at .*prices must be finite and > 0"):
        replay(model, nan_open, BacktestConfig())


def test_replay_deflates_by_the_trials_recorded_in_the_manifest(trained):
    """The model was chosen among report.n_trials configurations and tuning trials (reused
    studies included); the replay's Deflated Sharpe counts them, not 1."""
    bars, _, model = trained
    tuned = copy.copy(model)
    tuned.manifest = model.manifest.model_copy(update={"report": model.manifest.report.model_copy(update={"n_trials": 27})})
    later = _slice(bars, start=300)
    deflated = replay(tuned, later)
    assert deflated.sharpe.n_trials == 27
    assert replay(tuned, later, n_trials=1).sharpe.n_trials == 1  # an explicit count still wins
    assert deflated.sharpe.dsr < replay(tuned, later, n_trials=1).sharpe.dsr
