"""Challenger against champion on the same rows, by a paired test: the evidence a promotion rests on.

Comparison basis: challenger and champion are scored on the *challenger's* holdout, the most
recent rows, which neither version trained on (a version's production model is fit on every row
before its holdout; this is refused when the champion's own training reached into that span, i.e.
its holdout started later). Given the bars, both artifacts are loaded and re-scored on those rows,
and the per-row difference ``d = 1[challenger correct] − 1[champion correct]`` goes through
:func:`candor.evaluate.paired_test` — the dependence-aware block-bootstrap test of every candor
verdict (block length measured, floored at the label horizon and the labels' and predictions'
persistence; Student-t interval at ``alpha``): the lift (challenger − champion accuracy), its CI,
the p-value and the verdict.

The rule (:func:`compare_versions`; promotion in :mod:`candor.registry.publish` and
``candor registry compare --promote``): **the challenger wins when it passed its gates
(``validated``) and is not significantly worse than the champion** — refused only when the upper
end of the lift's CI lies below ``−margin`` (``margin`` 0: a two-sided test at ``alpha`` says
"worse"). A challenger that is not significantly different is promoted: the newer model, trained
on more recent data, serves unless the rows show it is worse. "Worse" is said only when the test
says so; a challenger that failed its gates is reported as such whatever its accuracy.

Without the bars, two versions evaluated on the identical holdout (same start, end, row count and
label spec) can only be compared by their stored holdout accuracies: no paired test is possible
(the per-row predictions are not stored), the comparison says so (``tested`` False), and the
challenger wins when validated and its accuracy is at least the champion's minus ``margin``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from candor.errors import ConfigError, NotFoundError, RegistryError
from candor.labels import make_labels
from candor.registry.aliases import CHAMPION
from candor.registry.artifact import CandorModel
from candor.registry.common import VALIDATED, Comparison

_SPAN_TAGS = ("holdout_start", "holdout_end", "holdout_rows", "label_spec")

#: ``(name, version or alias) -> ModelVersion`` and ``ModelVersion -> verified model``.
VersionLookup = Callable[[str, "str | int"], Any]
ModelLoader = Callable[[Any], CandorModel]


def check_margin(margin: float) -> float:
    """The tolerated accuracy loss of a challenger: in [0, 1), else :class:`ConfigError`."""
    if not 0.0 <= margin < 1.0:
        raise ConfigError(f"`margin` must be in [0, 1). Got {margin!r}.")
    return margin


def compare_versions(lookup: VersionLookup, load: ModelLoader, name: str, challenger: str | int,
                     champion: str | int | None, margin: float, bars: pd.DataFrame | None = None, *,
                     alpha: float = 0.05, n_boot: int = 1000) -> Comparison:
    """Challenger vs champion on the challenger's holdout rows, by the paired test (module docstring).

    ``bars``: re-score both versions on the same rows and test the difference (without them only
    the stored accuracies on an identical holdout can be compared, untested). ``alpha``: the
    two-sided level of the test; ``n_boot``: its bootstrap resamples.
    """
    check_margin(margin)
    new = lookup(name, challenger)
    new_acc, status = _stored_accuracy(new), str(new.tags.get("status") or "")
    validated = status == VALIDATED
    try:
        old = lookup(name, champion if champion is not None else CHAMPION)
    except NotFoundError:
        if champion is not None:
            raise
        return Comparison(name, str(new.version), None, new_acc, None, margin, validated, "no champion yet",
                          challenger_status=status)
    if bars is not None:
        # lazy: the test needs scikit-learn and SciPy, which every registry command would load for it
        from candor.evaluate import paired_test, persistence_block

        scored = rescore_rows(load, new, old, bars)
        d = scored.challenger_correct.astype(float) - scored.champion_correct.astype(float)
        test = paired_test(d, horizon=scored.horizon, n_boot=n_boot, alpha=alpha,
                           min_block=persistence_block([scored.truth, scored.challenger_pred, scored.champion_pred]))
        worse = test.ci_high < -margin
        return Comparison(
            name, str(new.version), str(old.version), float(scored.challenger_correct.mean()),
            float(scored.champion_correct.mean()), margin, validated and not worse,
            f"paired test on the challenger's holdout {new.tags.get('holdout_start')} .. "
            f"{new.tags.get('holdout_end')} ({len(d):,} rows both scored out of sample, "
            f"{test.block_length}-row blocks)",
            challenger_status=status, tested=True, rows=len(d), lift=test.estimate, lift_ci_low=test.ci_low,
            lift_ci_high=test.ci_high, p_value=test.p_value, alpha=alpha, block_length=test.block_length,
            significantly_worse=worse)
    if all(new.tags.get(t) == old.tags.get(t) for t in _SPAN_TAGS) and new.tags.get("holdout_start"):
        old_acc = _stored_accuracy(old)
        basis = (f"stored holdout accuracy on the identical holdout {new.tags['holdout_start']} .. "
                 f"{new.tags['holdout_end']} (not tested: give the bars to re-score both on the same rows)")
        return Comparison(name, str(new.version), str(old.version), new_acc, old_acc, margin,
                          validated and new_acc >= old_acc - margin, basis, challenger_status=status,
                          lift=new_acc - old_acc, alpha=alpha)
    raise RegistryError(
        f"cannot compare {name} version {new.version} with version {old.version} on the same holdout: "
        f"their holdouts differ ({_span(new)} vs {_span(old)}); pass the bars to re-score both."
    )


def _span(mv: Any) -> str:
    return f"{mv.tags.get('holdout_start', '?')} .. {mv.tags.get('holdout_end', '?')}, {mv.tags.get('label_spec', '?')}"


def _stored_accuracy(mv: Any) -> float:
    value = mv.tags.get("holdout_accuracy")
    if value is None:
        raise RegistryError(f"{mv.name} version {mv.version} has no holdout_accuracy tag to compare.")
    return float(value)


@dataclass(frozen=True)
class Rescored:
    """Both versions' predictions on the challenger's holdout rows that both can score."""

    rows: pd.Index
    truth: np.ndarray
    challenger_pred: np.ndarray
    champion_pred: np.ndarray
    horizon: int

    @property
    def challenger_correct(self) -> np.ndarray:
        return self.challenger_pred == self.truth

    @property
    def champion_correct(self) -> np.ndarray:
        return self.champion_pred == self.truth


def rescore_rows(load: ModelLoader, new: Any, old: Any, bars: pd.DataFrame) -> Rescored:
    """Both models' predictions on the challenger's holdout rows that both can score (refused where
    the champion trained on them, the labels differ, or the bars hold none of them)."""
    start, end = pd.Timestamp(new.tags["holdout_start"]), pd.Timestamp(new.tags["holdout_end"])
    if old.tags.get("holdout_start") and _like(pd.Timestamp(old.tags["holdout_start"]), start) > start:
        raise RegistryError(f"champion version {old.version} was trained on rows after {start} "
                            f"(its holdout starts {old.tags['holdout_start']}); it cannot be scored honestly on "
                            "the challenger's holdout.")
    models = [load(mv) for mv in (new, old)]
    if models[0].label_spec != models[1].label_spec:
        raise RegistryError(f"versions {new.version} and {old.version} predict different labels "
                            f"({models[0].label_spec} vs {models[1].label_spec}); they cannot be compared.")
    y = make_labels(bars, models[0].label_spec).y
    start, end = _like(start, y.index), _like(end, y.index)
    frames = [m.features(bars) for m in models]
    rows = y.index[(y.index >= start) & (y.index <= end)]
    rows = rows[np.logical_and.reduce([f.reindex(rows).notna().all(axis=1).to_numpy() for f in frames])]
    if len(rows) == 0:
        raise RegistryError(f"the bars hold none of the challenger's holdout rows ({start} .. {end}).")
    truth = y.loc[rows].to_numpy()
    preds = [np.asarray(m.estimator.predict(f.loc[rows])) for m, f in zip(models, frames)]
    return Rescored(rows, truth, preds[0], preds[1], int(models[0].label_spec.horizon))


def _like(stamp: pd.Timestamp, other: Any) -> pd.Timestamp:
    """``stamp`` in the time zone of ``other`` (a Timestamp or an index): a tag written without a zone
    is read as UTC when the bars carry one (candor's bars are UTC), and compared plainly otherwise."""
    tz = getattr(other, "tz", None)
    if tz is not None and stamp.tz is None:
        return stamp.tz_localize("UTC").tz_convert(tz)
    if tz is None and stamp.tz is not None:
        return stamp.tz_convert("UTC").tz_localize(None)
    return stamp
