"""The cells of a research grid on one series, each scored by ``candor train``'s walk-forward.

A *cell* is one configuration of one series: a horizon, a label kind (and threshold), a member
set and a set of feature groups. Each cell is evaluated exactly as :func:`candor.training.run.train`
evaluates its out-of-sample rows — the same row plan (holdout split, purged and embargoed
walk-forward folds, class checks), the same members fitted per fold, the same per-fold
:class:`~candor.blend.Blend` fit on earlier folds' blocks (warm-up block included), and the same
pooled :func:`~candor.evaluate.evaluate_oos` against the baselines with the dependence-aware
paired test (:func:`walk.plan_labelled`, :func:`walk.stacked_outcome`, :func:`walk.pooled_report`
are called, not copied). What a search does not need is skipped: no production fit, no holdout
score (the holdout stays untouched by the search, for the training that follows it), no
importance, no backtest.

No repeated work on a series (:func:`search_series`):

* features are computed once, for the union of the cells' feature groups; a cell takes its
  groups' columns (each column depends on its own group only, so they equal a computation of
  that subset);
* labels once per (horizon, label kind, threshold) — the threshold axis collapses for kinds that
  do not read it;
* one row plan (folds) per labelled matrix, shared by every member set on it, and shared with any
  other feature subset whose complete rows coincide;
* each member is fitted once per fold of a labelled matrix: a ``logreg,lgbm`` cell reuses the
  ``logreg`` cell's fits (members are fitted independently from the same seed, so the merged
  probabilities equal a joint fit's).

A cell that cannot be evaluated (a series too short for its horizon, one class left, too few rows
for the folds) becomes a failed :class:`CellResult` with the reason; the others continue.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from candor.config import Config
from candor.data.bars import symbol_of, timeframe_of
from candor.errors import CandorError, DataError
from candor.features import FeatureSet, compute_features, feature_specs, warmup_bars
from candor.labels import LabelSpec, make_labels
from candor.records.evaluation import Evaluation
from candor.records.specs import FEATURE_GROUPS
from candor.training.matrix import MIN_TRAINING_ROWS, LabelledData, align_labelled, data_fingerprint
from candor.training.run import configurations_tried, oos_table
from candor.training.walk import RowPlan, baseline_preds, plan_labelled, pooled_report, stacked_outcome
from candor.training.stacking import WARMUP, MemberFold, fit_members, make_blend, make_members, warmup_block

#: Label kinds whose classes depend on ``labels.threshold`` (the others collapse that axis).
THRESHOLD_KINDS = ("threshold",)


@dataclass(frozen=True)
class Cell:
    """One configuration of a series: horizon, label (kind, threshold), member set, feature groups."""

    horizon: int
    label: str
    threshold: float | None
    models: tuple[str, ...]
    groups: tuple[str, ...]

    @property
    def name(self) -> str:
        thr = "" if self.threshold is None else f"±{self.threshold:.4g}"
        groups = "all" if set(self.groups) == set(FEATURE_GROUPS) else "+".join(self.groups)
        return f"h{self.horizon}/{self.label}{thr}/{'+'.join(self.models)}/{groups}"

    def label_spec(self, base: LabelSpec) -> LabelSpec:
        update: dict = {"kind": self.label, "horizon": self.horizon}
        if self.threshold is not None:
            update["threshold"] = self.threshold
        return LabelSpec.model_validate({**base.model_dump(), **update})


def cell_config(config: Config, cell: Cell) -> Config:
    """``config`` with the cell's labels, feature groups and members (validated: ConfigError)."""
    document = config.model_dump()
    document["labels"] = cell.label_spec(config.labels).model_dump()
    document["features"] = {**document["features"], "groups": cell.groups}
    document["models"] = {**document["models"], "models": cell.models, "fold_jobs": 1}
    return Config.model_validate(document)


@dataclass(frozen=True)
class CellResult:
    """One evaluated (or failed) cell: its out-of-sample evaluation and per-row edge.

    ``rows`` are the pooled out-of-sample timestamps and ``d`` per row ``1[model correct] −
    1[best baseline correct]`` (the paired test's differences; ``lift`` = ``d.mean()``).
    """

    series: str
    symbol: str
    timeframe: str
    cell: Cell
    status: str  # "evaluated" | "failed"
    reason: str | None = None
    evaluation: Evaluation | None = None
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[ns]"), repr=False)
    d: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    n_samples: int | None = None
    n_trials: int = 1
    label: str | None = None
    config_hash: str | None = None
    data_fingerprint: str | None = None
    first_bar: pd.Timestamp | None = None
    last_bar: pd.Timestamp | None = None
    seconds: float = 0.0
    oos_rows: pd.DataFrame | None = field(default=None, repr=False)  # :func:`run.oos_table`, when asked for
    cpcv: dict | None = None  # split.cv = "cpcv": :func:`candor.training.cpcv.cpcv_paths` of the cell


def reason_of(exc: BaseException) -> str:
    """One line for a failed cell: candor's own message, else the exception's type and first line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, CandorError) else f"{type(exc).__name__}: {text}".rstrip(": ")


class _SeriesSearch:
    """Caches of one series (module docstring): features, labels, matrices, plans, member fits."""

    def __init__(self, bars: pd.DataFrame, config: Config, cells: Sequence[Cell], keep_oos: bool = False) -> None:
        self.bars, self.config, self.keep_oos = bars, config, keep_oos
        self.timeframe, self.calendar = timeframe_of(bars), bars.attrs.get("calendar")
        wanted = {g for c in cells for g in c.groups}
        union = FeatureSet.model_validate({**config.features.model_dump(),
                                           "groups": tuple(g for g in FEATURE_GROUPS if g in wanted)})
        self.union = union
        self._features: pd.DataFrame | None = None
        self.labels: dict[LabelSpec, object] = {}
        self.matrices: dict[tuple, LabelledData] = {}
        self.plans: dict[tuple, RowPlan] = {}
        self.fits: dict[tuple, tuple[dict, dict, float]] = {}
        self.fingerprint = data_fingerprint(bars)

    @property
    def features(self) -> pd.DataFrame:
        if self._features is None:
            self._features = compute_features(self.bars, self.union)
        return self._features

    def matrix(self, spec: LabelSpec, groups: tuple[str, ...]) -> LabelledData:
        key = (spec, groups)
        if key not in self.matrices:
            feature_set = FeatureSet.model_validate({**self.union.model_dump(), "groups": groups})
            warmup = warmup_bars(feature_set, self.timeframe, self.calendar)
            need = warmup + spec.horizon + MIN_TRAINING_ROWS
            if len(self.bars) < need:
                raise DataError(f"{len(self.bars)} bars are too few for horizon {spec.horizon}: the features' "
                                f"warm-up ({warmup}) + horizon + {MIN_TRAINING_ROWS} training rows need {need}.")
            if spec not in self.labels:
                self.labels[spec] = make_labels(self.bars, spec)
            columns = [s.name for s in feature_specs(feature_set, self.timeframe, self.calendar)]
            self.matrices[key] = align_labelled(self.features[columns], self.labels[spec], feature_set)
        return self.matrices[key]

    def plan(self, spec: LabelSpec, data: LabelledData, config: Config) -> RowPlan:
        digest = hashlib.sha256(data.y.index.asi8.tobytes()).hexdigest()
        key = (spec, digest)  # folds shared by member sets and by feature subsets with the same rows
        if key not in self.plans:
            self.plans[key] = plan_labelled(data, config, None, time.perf_counter())
        return self.plans[key]

    def member_folds(self, key: tuple, data: LabelledData, plan: RowPlan, config: Config) -> list[MemberFold]:
        """Every fold's (and the warm-up block's) member probabilities, each member fitted once."""
        y = data.y.to_numpy()
        classes = np.unique(y)
        blocks = [(WARMUP, *w) for w in [warmup_block(y, data.y.index.to_numpy("datetime64[ns]"),
                                                     data.t1.to_numpy("datetime64[ns]"), plan.folds[0].train)]
                  if w is not None]
        blocks += [(f.index, f.train, f.test) for f in plan.folds]
        members = make_members(config)
        out = []
        for index, train, test in blocks:
            missing = {name: template for name, template in members.items() if (key, index, name) not in self.fits}
            if missing:  # fitted together: members configured alike share their preprocessing's fit
                done = fit_members(missing, data.X, y, data.t1, classes, index, train, test)
                for name in missing:
                    self.fits[(key, index, name)] = (done.test_proba[name], done.train_proba[name],
                                                     done.seconds / len(missing))
            test_proba = {name: self.fits[(key, index, name)][0] for name in members}
            train_proba = {name: self.fits[(key, index, name)][1] for name in members}
            seconds = sum(self.fits[(key, index, name)][2] for name in members)
            out.append(MemberFold(index, train, test, test_proba, train_proba, seconds))
        return out

    def evaluate(self, series: str, cell: Cell) -> CellResult:
        started = time.perf_counter()
        config = cell_config(self.config, cell)
        data = self.matrix(config.labels, cell.groups)
        plan = self.plan(config.labels, data, config)
        member_folds = self.member_folds((config.labels, cell.groups), data, plan, config)
        classes = np.unique(data.y.to_numpy())
        blend = make_blend(config)
        outcomes = [stacked_outcome(blend, data, member_folds, k, classes)
                    for k, fold in enumerate(member_folds) if fold.index != WARMUP]
        oos, proba = pooled_report(data, plan.folds, outcomes, config)
        d = _row_edge(data, plan, outcomes, oos, config)
        cpcv = None
        if config.split.cv == "cpcv":  # the path distribution, as `candor train --cv cpcv` reports it
            from candor.training.cpcv import cpcv_paths

            cpcv = cpcv_paths(data, plan.dev, config)
        return CellResult(
            series, symbol_of(self.bars), self.timeframe, cell, "evaluated", evaluation=oos,
            rows=proba.index.to_numpy("datetime64[ns]"), d=d, n_samples=data.n_samples,
            n_trials=configurations_tried(config), label=data.labels.spec.describe(),
            config_hash=config.config_hash(), data_fingerprint=self.fingerprint,
            first_bar=self.bars.index[0], last_bar=self.bars.index[-1], seconds=time.perf_counter() - started,
            oos_rows=oos_table(data, outcomes) if self.keep_oos else None, cpcv=cpcv,
        )


def _row_edge(data: LabelledData, plan: RowPlan, outcomes: list, oos: Evaluation, config: Config) -> np.ndarray:
    """Per pooled out-of-sample row, ``1[model correct] − 1[best baseline correct]`` (the lift's rows)."""
    y = data.y.to_numpy()
    test = np.concatenate([o.test for o in outcomes])
    pred = outcomes[0].classes[np.vstack([o.proba for o in outcomes]).argmax(axis=1)]
    base = np.concatenate([baseline_preds(data, f.train, f.test, config.seed)[oos.best_baseline]
                           for f in plan.folds])
    return (pred == y[test]).astype(float) - (base == y[test]).astype(float)


Progress = Callable[[CellResult], None]


def search_series(bars: pd.DataFrame, config: Config, cells: Sequence[Cell], *, series: str | None = None,
                  progress: Progress | None = None, keep_oos: bool = False) -> list[CellResult]:
    """Evaluate every cell of one series (in order), sharing its features, labels, folds and fits.

    ``keep_oos``: each cell keeps its per-bar out-of-sample probabilities (``--oos-out``)."""
    name = series or symbol_of(bars)
    search = _SeriesSearch(bars, config, cells, keep_oos)
    results = []
    for cell in cells:
        try:
            result = search.evaluate(name, cell)
        except Exception as exc:  # noqa: BLE001 - a failing cell is a row with its reason; the others go on
            result = CellResult(name, symbol_of(bars), timeframe_of(bars), cell, "failed", reason=reason_of(exc))
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def failed_cells(series: str, symbol: str, timeframe: str, cells: Sequence[Cell], reason: str) -> list[CellResult]:
    """Every cell of a series that could not be read, failed with the same reason."""
    return [CellResult(series, symbol, timeframe, cell, "failed", reason=reason) for cell in cells]
