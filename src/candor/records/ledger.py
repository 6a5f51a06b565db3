"""The trial ledger's records: one evaluated configuration of one target, and a target's summary.

Why a ledger: the best of many tries looks significant by luck. Every configuration candor ever
evaluated for a *target* — one series (symbol × timeframe) at one horizon with one kind of label —
is a row of the ``ledger_trials`` table, and the Deflated Sharpe of the next training of that
target deflates for all of them, across runs and sessions, not only for the trials of its own run.

One row per evaluation (a training, a dry run, a universe member), with a count: ``n_trials`` is
how many configurations that evaluation chose among — its members and their blend
(:func:`candor.training.run.configurations_tried`), every Optuna trial of a tuned training (a
``--optimize --trials 50`` run of four members adds its 4 × 50 × folds trials as one row, counted
by ``tuning_trials``) and the trials of reused tuned parameters. A target's trial count is the sum
of its rows' ``n_trials``. ``prior_trials`` is the ledger's count for the target when the row's
training ran: its Deflated Sharpe deflated for ``prior_trials + n_trials``.

The stored form is the live form: :mod:`candor.store.ledger` writes a :class:`Trial` as a row and
reads rows back as :class:`Trial`; ``candor ledger --output-json`` writes ``model_dump(mode="json")``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BeforeValidator

from candor.records.values import Count, Num, Record, Text


def _utc(value: object) -> dt.datetime | None:
    """An aware UTC datetime (naive means UTC; pandas Timestamps and ISO text accepted)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if not isinstance(value, dt.datetime):
        raise ValueError(f"expected a timestamp, got {value!r}")
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


UtcTime = Annotated[dt.datetime | None, BeforeValidator(_utc)]


class Trial(Record):
    """One evaluated configuration set of one target (a ``ledger_trials`` row)."""

    id: Count = None
    symbol: str
    timeframe: str
    horizon: int
    label_kind: str
    label: Text = None  # the label's description, e.g. "threshold ±0.10%"
    config_hash: Text = None
    data_fingerprint: Text = None
    data_first: UtcTime = None  # the first and last bar the training read
    data_last: UtcTime = None
    n_samples: Count = None
    n_trials: int = 1
    tuning_trials: int = 0
    prior_trials: int = 0
    lift: Num = None  # out-of-sample accuracy lift over the best baseline
    lift_ci_low: Num = None
    lift_ci_high: Num = None
    p_value: Num = None
    verdict: Text = None
    sharpe: Num = None  # after costs, when a backtest ran
    deflated_sharpe: Num = None
    dry_run: bool = False
    command: str = "candor train"
    actor: Text = None
    candor_version: Text = None
    recorded_at: UtcTime = None

    @property
    def target(self) -> str:
        """``SYMBOL/TF/hN`` (the label kind is shown beside it)."""
        return f"{self.symbol}/{self.timeframe}/h{self.horizon}"


class TargetSummary(Record):
    """What the ledger holds for one target: how many trials, and the best of them, corrected.

    ``best_p_adjusted`` is the smallest p-value after Bonferroni over every trial of the target
    (``min(1, trials × p)``): the best of N tries judged as one of N.
    """

    symbol: str
    timeframe: str
    horizon: int
    label_kind: str
    rows: int
    trials: int
    dry_runs: int
    first: UtcTime = None
    last: UtcTime = None
    best_lift: Num = None
    best_p_value: Num = None
    best_p_adjusted: Num = None
    best_sharpe: Num = None
    latest_deflated_sharpe: Num = None

    @property
    def target(self) -> str:
        return f"{self.symbol}/{self.timeframe}/h{self.horizon}"
