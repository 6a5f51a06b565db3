"""Tuned parameters reused from an earlier ``--optimize``: where they came from, and when not to.

``candor train --optimize`` saves the production model's best parameters to
``<home>/best_hyperparameters/<SYMBOL>_<tf>.json``; a later plain ``candor train`` of the series
trains with them (:func:`candor.training.runconfig.derive_run_config`). Two things keep that honest:

* **No reuse on rows the tuning saw.** The document records the rows its studies scored — the
  earlier run's development rows, ``first_row`` … ``last_row``, whose labels all resolved before
  ``labels_before`` (the earlier holdout's first row; the purge guarantees it) — and the fold
  layout. A run whose out-of-sample rows (its first walk-forward test row to its last label's
  end, holdout included) intersect that window must not use them: parameters chosen by scoring
  those very rows would make its test folds in-sample. A document saved without this record
  cannot be checked and is treated the same way. What happens then is ``tune.reuse_saved``:
  ``auto`` (the default) ignores the saved file with one warning line and trains with the
  configured parameters — so one ``--optimize`` never blocks later plain trainings of the series;
  ``require`` (``--reuse-params``: the user asked for reuse) refuses with
  :class:`TuningReuseError` (exit 1) before anything is fitted; ``never``
  (``--ignore-saved-params``) does not read them at all.
* **Every trial counts.** The reused studies' trials are added to the run's ``n_trials``, so the
  Deflated Sharpe of its backtest — and of every later ``candor backtest`` of the model, which
  reads ``n_trials`` from the manifest — deflates for the search that picked the parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

import pandas as pd
from pydantic import BeforeValidator

from candor.errors import ModelError
from candor.records.values import Record

#: ``format`` of a best-parameters document that records its provenance (absent: the old shape).
PROVENANCE_FORMAT = 2


class TuningReuseError(ModelError):
    """Saved tuned parameters were chosen on rows this run would test on (exit code 1)."""


def _utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        raise ValueError("not a time")
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


#: A time as an aware UTC datetime (naive means UTC; ISO text and pandas Timestamps read).
UtcStamp = Annotated[dt.datetime, BeforeValidator(_utc)]


class ReusedTuning(Record):
    """The provenance of reused parameters: the rows their studies scored and how many trials."""

    path: str
    created_at: str = "?"
    n_trials: int
    first_row: UtcStamp
    last_row: UtcStamp
    labels_before: UtcStamp
    rows: int
    folds: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_document(cls, document: Mapping[str, Any], path: str) -> ReusedTuning:
        """Read a saved document's provenance; a document without one is refused (it cannot be checked)."""
        tuned = document.get("tuned_on")
        try:
            if document.get("format") != PROVENANCE_FORMAT or not isinstance(tuned, Mapping):
                raise KeyError("tuned_on")
            return cls.model_validate({**tuned, "path": path, "created_at": str(document.get("created_at", "?")),
                                       "n_trials": document.get("n_trials"), "folds": document.get("folds", ())})
        except (KeyError, TypeError, ValueError):  # a pydantic ValidationError is a ValueError
            raise TuningReuseError(
                f"{path!r} holds tuned parameters without the rows they were tuned on (saved by an older "
                "candor), so this run cannot check they were not chosen on its test rows. Fix: re-tune with "
                "--optimize, or drop --reuse-params (or pass --ignore-saved-params) to train with the configured "
                "parameters."
            ) from None

    def describe(self) -> str:
        """One line for the run's DerivedSetting: where the parameters came from."""
        return (f"best parameters saved by an earlier --optimize ({self.path}, {self.created_at}): tuned on "
                f"{self.rows} rows {self.first_row:%Y-%m-%d %H:%M} .. {self.last_row:%Y-%m-%d %H:%M} (labels "
                f"resolved before {self.labels_before:%Y-%m-%d %H:%M}), {self.n_trials} trials, counted in this "
                "run's Deflated Sharpe; not used where they overlap its out-of-sample rows")

    def check_out_of_sample(self, oos_first: pd.Timestamp, oos_end: pd.Timestamp) -> int:
        """Refuse when the tuned window meets ``[oos_first, oos_end]``; else the trials to count.

        ``oos_first`` is the run's first walk-forward test row, ``oos_end`` its last label's end
        (the holdout's). The tuned window is ``[first_row, labels_before)``: every price its
        studies' scores looked at.
        """
        overlap = self.overlap(oos_first, oos_end)
        if overlap:
            raise TuningReuseError(
                f"the saved parameters in {self.path!r} were {overlap}: its test folds would score parameters "
                "chosen on them. Fix: re-tune inside the folds with --optimize, or drop --reuse-params (or pass "
                "--ignore-saved-params) to train with the configured parameters."
            )
        return self.n_trials

    def overlap(self, oos_first: pd.Timestamp, oos_end: pd.Timestamp) -> str | None:
        """Why the tuned window meets ``[oos_first, oos_end]`` (one clause), or None when it does not."""
        first, end = _utc(oos_first), _utc(oos_end)
        if self.first_row <= end and first < self.labels_before:
            return (f"tuned on rows {self.first_row} .. {self.last_row} (labels to before {self.labels_before}), "
                    f"which overlap this run's out-of-sample rows {first} .. {end}")
        return None


def reused_trials(reused: ReusedTuning | None, oos_first: pd.Timestamp, oos_end: pd.Timestamp) -> int:
    """Trials of reused studies this run must count (0 without reuse); raises on overlap."""
    return 0 if reused is None else reused.check_out_of_sample(oos_first, oos_end)

