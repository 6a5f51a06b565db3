"""Freqtrade fixtures: one small champion per session (a real training, registered and promoted).

Why one training: ``run_training`` on 700 planted-signal bars (logreg, 3 folds) fills the store,
MLflow and the artifact exactly as ``candor train --promote`` does, in about ten seconds; the
tests only read it.
"""

from __future__ import annotations

import pytest
from freqtrade_helpers import REPLAY_BARS, SYMBOL, TRAIN_BARS, Series, series_config

from tests.templates import seed_home


@pytest.fixture(scope="session")
def series(tmp_path_factory) -> Series:
    from candor.data.synthetic import planted_signal
    from candor.services import open_services
    from candor.application.train import run_training

    home = seed_home(tmp_path_factory.mktemp("freqtrade-home"), tmp_path_factory)  # migrated empty stores
    config = series_config(home)
    bars = planted_signal(TRAIN_BARS + REPLAY_BARS, seed=3, symbol=SYMBOL, start="2021-01-01")
    train = bars.iloc[:TRAIN_BARS].copy()
    train.attrs = dict(bars.attrs)
    outcome = run_training(train, config, promote=True, actor="fixture")
    with open_services(config) as services:
        if not outcome.registered.promoted:
            services.registry.promote(outcome.registered.name, outcome.registered.version, force=True,
                                      actor="fixture", reason="fixture: first champion")
        champion = services.registry.champion(SYMBOL, "d1")
    return Series(home, config, bars, champion.name, champion.version, int(champion.model.manifest.warmup))
