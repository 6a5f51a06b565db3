"""Full retrain of one series × horizon, published and promoted if not worse than the champion.

The monthly scheduled retrain and the drift monitor's emergency retrain both call
:func:`retrain_series`; it is :func:`candor.application.train.run_training` with the horizon
asked for and ``promote`` on, so it is judged by exactly the gates ``candor train`` uses.
"""

from __future__ import annotations

import pandas as pd

from candor.errors import ModelError
from candor.registry.common import RegisteredVersion
from candor.services import Services
from candor.application.train import run_training


def retrain_series(services: Services, bars: pd.DataFrame, horizon: int, *, actor: str = "candor schedule",
                   why: str = "retrain") -> RegisteredVersion:
    """Retrain ``bars`` at ``horizon``; register, validate and promote if not worse."""
    outcome = run_training(bars, services.config, horizon=horizon, horizon_source=f"{actor}: forecast horizon",
                           promote=True, actor=actor, reason=f"{actor}: {why}", services=services, command=actor)
    if outcome.registered is None:
        raise ModelError(f"retraining {bars.attrs.get('symbol')}/{bars.attrs.get('timeframe')} saved no version.")
    return outcome.registered
