"""Error control across the series trained together: one test per series, one error rate for all.

Each series' lift test is a two-sided test at ``alpha``. Trained one at a time that is honest;
trained as a universe (``candor train --all``, ``--symbols …``, :func:`train_universe`) it is
not: with 500 series and no edge anywhere, about 25 would be called "significant" by chance.
So a universe's p-values are adjusted across its trained series:

* ``"bh"`` (default) — Benjamini–Hochberg: controls the false-discovery rate, the expected share
  of "significant" series that are flukes, at ``alpha``;
* ``"holm"`` — Holm's step-down: controls the chance of even one fluke (family-wise error);
* ``"none"`` — no adjustment (the per-series verdicts stand; said as such).

Before the correction across series, each series' p-value is corrected for the trials of its
own target (:func:`per_target`): a series is the best of every configuration the trial ledger
holds for its symbol × timeframe × horizon × label kind (this run's members and ensemble, its
tuning trials and every earlier run's — the ``n_trials`` its Deflated Sharpe counts), so its p is
Šidák's ``1 − (1 − p)^k`` for those ``k`` trials (valid for the positively dependent tests of one
target, by Šidák's inequality). A target tried once keeps its p; ``"none"`` adjusts nothing.
``candor research`` counts its cells by the same rule (:mod:`candor.application.research`: each
cell's within-series stepdown p with ``k`` = 1 + its target's earlier ledger trials).

The adjusted verdict keeps the direction of the lift: an adjusted ``p < alpha`` is a significant
edge when the lift is positive, significantly worse when it is negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from candor.errors import ConfigError
from candor.records.verdict import Verdict

Correction = Literal["bh", "holm", "none"]
CORRECTION_NAMES: dict[str, str] = {
    "bh": "Benjamini-Hochberg (false-discovery rate)",
    "holm": "Holm (family-wise error rate)",
    "none": "none (per-series tests)",
}
_STATSMODELS = {"bh": "fdr_bh", "holm": "holm"}


@dataclass(frozen=True)
class Adjusted:
    """One series' test after the correction across ``n_series``."""

    p_value: float
    adjusted_p_value: float
    verdict: Verdict
    correction: str
    n_series: int


def adjust_p_values(p_values: Sequence[float], method: Correction) -> np.ndarray:
    """Adjusted p-values (same order), each in [0, 1]."""
    if method not in CORRECTION_NAMES:
        raise ConfigError(f"`correction` must be one of {', '.join(CORRECTION_NAMES)}. Got {method!r}.")
    p = np.asarray(p_values, dtype=float)
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise ConfigError("p-values must be finite and in [0, 1].")
    if method == "none" or p.size == 0:
        return p.copy()
    from statsmodels.stats.multitest import multipletests  # statsmodels is heavy; only a universe needs it

    return multipletests(p, method=_STATSMODELS[method])[1]


def per_target(p_values: Sequence[float], trials: Sequence[int | None]) -> np.ndarray:
    """Šidák's ``1 − (1 − p)^k`` per series, ``k`` its target's trials (None or < 1 counts as 1)."""
    p = np.asarray(p_values, dtype=float)
    k = np.asarray([max(1, int(t or 1)) for t in trials], dtype=float)
    if p.shape != k.shape:
        raise ConfigError(f"{p.size} p-values for {k.size} trial counts.")
    p = np.clip(p, 0.0, 1.0)
    with np.errstate(divide="ignore"):  # p = 1: log1p(-1) = -inf, and 1 − (1 − 1)^k = 1 comes out exact
        return np.where(k == 1, p, -np.expm1(k * np.log1p(-p)))  # 1 − (1 − p)^k, exact for tiny p; k = 1 keeps p


def adjusted_verdict(adjusted_p: float, lift: float, alpha: float) -> Verdict:
    if adjusted_p >= alpha or lift == 0:
        return Verdict.NO_SIGNIFICANT_EDGE
    return Verdict.SIGNIFICANT_EDGE if lift > 0 else Verdict.SIGNIFICANTLY_WORSE


def adjust(p_values: Sequence[float], lifts: Sequence[float], *, method: Correction, alpha: float,
           trials: Sequence[int | None] | None = None) -> list[Adjusted]:
    """The correction of ``p_values`` (two-sided, one per series) and each series' adjusted verdict.

    ``trials``: each series' target's trial count in the ledger (module docstring; None: one each)."""
    if len(p_values) != len(lifts):
        raise ConfigError(f"{len(p_values)} p-values for {len(lifts)} lifts.")
    targets = p_values if trials is None or method == "none" else per_target(p_values, trials)
    adjusted = adjust_p_values(targets, method)
    return [Adjusted(float(p), float(q), adjusted_verdict(q, lift, alpha), method, len(adjusted))
            for p, q, lift in zip(p_values, adjusted, lifts)]
