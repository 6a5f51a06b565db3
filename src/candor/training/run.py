"""Train one (symbol, timeframe) and tell the truth about it.

The newest slice is a holdout that nothing below touches until the end. On the rest, a purged,
embargoed walk-forward fits the members (scaling, pruning, tuning when on) inside each training
fold, blends them with a :class:`~candor.blend.Blend` fit on earlier folds' predictions only
(:mod:`candor.training.stacking`) and scores only the fold after it. Pooled out-of-sample
predictions are compared with baselines under a block bootstrap. Finally the members are refit on
everything but the holdout and blended by a Blend fit on every fold's predictions — that is the
production model — and scored once on the holdout.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import accuracy_score, f1_score

from candor import baselines
from candor.backtest import BacktestConfig, BacktestResult, run_backtest
from candor.config import Config
from candor.data.bars import symbol_of, timeframe_of
from candor.training.matrix import LabelledData, build_labelled_data, data_fingerprint
from candor.blend import Blend
from candor.ensemble import BlendedEnsemble
from candor.evaluate import calibration_table, evaluate_oos, permutation_importance_oos
from candor.features import FeatureSet, warmup_bars
from candor.labels import CLASS_NAMES, LabelSpec
from candor.split import Fold
from candor.training.reuse import ReusedTuning
from candor.records.evaluation import Evaluation
from candor.conformal import MAX_SCORES, lac_scores
from candor.records.report import ConformalCalibration
from candor.records.report import (
    CalibrationBin, DataSpan, FoldSummary, ImportanceRow, MemberScore, TrainingReport,
)
from candor.training.stacking import (
    WARMUP,
    MemberFold,
    ProductionMembers,
    final_blend,
    fit_members,
    fit_production_members,
    make_blend,
    make_members,
    warmup_block,
)
from candor.training.walk import (
    FoldOutcome, RowPlan, baseline_preds, plan_labelled, pooled_report, stacked_outcome,
)

Progress = Callable[[str], None]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Production:
    """The served model and, for a tuned run, the production and warm-up members' studies."""

    model: BlendedEnsemble
    tuning: dict | None
    warmup_tuning: dict | None
    seconds: float


@dataclass
class TrainResult:
    """Everything a training produced; :attr:`report` is what is stored of it."""

    symbol: str
    timeframe: str
    n_samples: int
    label: str
    horizon: int
    class_distribution: dict[str, float]
    folds: list[FoldSummary]
    member_scores: dict[str, MemberScore]
    oos: Evaluation
    holdout: Evaluation
    weights: dict[str, float]
    model: BlendedEnsemble
    feature_names: list[str]
    calibration: pd.DataFrame
    importance: pd.DataFrame
    oos_proba: pd.DataFrame
    holdout_proba: pd.DataFrame
    fingerprint: str
    config: Config
    feature_set: FeatureSet
    label_spec: LabelSpec
    warmup: int
    data_span: DataSpan
    timings: dict[str, float] = field(default_factory=dict)
    backtest: BacktestResult | None = None
    n_trials: int = 1
    tuning: dict | None = None  # candor.training.tuning.tuning_summary: best params, studies, trial counts
    derived: tuple = ()  # candor.training.runconfig.DerivedSetting: config fields the run set, and why
    conformal: ConformalCalibration | None = None  # scores the forecast job builds its conformal sets from
    oos_rows: pd.DataFrame | None = None  # per-bar out-of-sample probabilities (:func:`oos_table`), ``--oos-out``
    cpcv: dict | None = None  # split.cv = "cpcv": the path distribution (:func:`candor.training.cpcv.cpcv_paths`)

    @property
    def prior_weight(self) -> float | None:
        """λ of the production blend: the class prior's share of every served forecast."""
        blend = getattr(self.model, "blend_", None)
        return None if blend is None or not hasattr(blend, "prior_weight_") else float(blend.prior_weight_)

    @cached_property
    def report(self) -> TrainingReport:
        """The typed report, built on first read and then shared by every reader and writer.

        Why cached: the gates, the manifest, MLflow's report.json, the ``training_runs`` row and
        ``--output-json`` must hold the same numbers, so they all serialise this one object. Read
        it once the result is final (``train`` has added the backtest; ``dataclasses.replace``
        gives a new result, which builds its own report).
        """
        return build_report(self)


def build_report(result: TrainResult) -> TrainingReport:
    """The report of a finished training (read it as ``result.report``: built once, then shared)."""
    return TrainingReport(
        symbol=result.symbol, timeframe=result.timeframe, n_samples=int(result.n_samples), label=result.label,
        horizon=int(result.horizon), class_distribution=result.class_distribution,
        fold_details=tuple(result.folds), models=dict(result.member_scores), weights=result.weights,
        prior_weight=result.prior_weight,
        oos=result.oos, holdout=result.holdout,
        backtest=None if result.backtest is None else result.backtest.summary(),
        n_trials=int(result.n_trials), tuning=result.tuning or None,
        feature_importance=tuple(ImportanceRow.model_validate(r) for r in result.importance.to_dict(orient="records")),
        calibration=tuple(CalibrationBin.model_validate(b) for b in result.calibration.to_dict(orient="records")),
        data_fingerprint=result.fingerprint, config_hash=result.config.config_hash(),
        timings={k: round(float(v), 3) for k, v in result.timings.items()},
        derived=tuple(dataclasses.asdict(d) for d in result.derived),
        conformal=result.conformal,
    )


def _data_span(bars_index: pd.DatetimeIndex, rows: pd.DatetimeIndex, dev: np.ndarray, hold: np.ndarray) -> DataSpan:
    """The span of a training on ``bars_index`` whose labelled ``rows`` split into ``dev`` / ``hold``."""
    return DataSpan(first_bar=bars_index[0], last_bar=bars_index[-1], dev_start=rows[dev[0]], dev_end=rows[dev[-1]],
                    dev_rows=len(dev), holdout_start=rows[hold[0]], holdout_end=rows[hold[-1]],
                    holdout_rows=len(hold))


def _aligned_proba(model, X: pd.DataFrame, classes: np.ndarray) -> np.ndarray:
    """Probabilities with one column per class in ``classes`` (absent classes get 0)."""
    proba = model.predict_proba(X)
    out = np.zeros((len(X), len(classes)))
    for j, label in enumerate(model.classes_):
        out[:, np.searchsorted(classes, label)] = proba[:, j]
    return out


def _fold_summary(data: LabelledData, outcome: FoldOutcome, train_rows: int, base: dict[str, np.ndarray]) -> FoldSummary:
    y_test = data.y.to_numpy()[outcome.test]
    pred = outcome.classes[outcome.proba.argmax(axis=1)]
    index = data.y.index
    return FoldSummary(
        index=outcome.index, train_rows=train_rows, test_rows=len(outcome.test),
        test_start=str(index[outcome.test[0]]), test_end=str(index[outcome.test[-1]]),
        accuracy=float(accuracy_score(y_test, pred)),
        f1=float(f1_score(y_test, pred, average="weighted", zero_division=0)),
        train_accuracy=outcome.train_accuracy,
        baselines={name: float(accuracy_score(y_test, p)) for name, p in base.items()},
        weights=outcome.weights, prior_weight=outcome.prior_weight,
    )


def _run_folds(data: LabelledData, folds: list[Fold], dev: np.ndarray, config: Config,
               progress: Progress) -> tuple[list[FoldOutcome], Production]:
    """Members per fold in parallel (production members in the same pool), then the blends.

    See :mod:`candor.training.stacking`: earlier folds' test predictions are the out-of-fold rows
    every later fold (and the production model) fits its blend on. Tuned or not, the same walk:
    a tuned member runs its study inside each fit, on that fit's training rows only.
    """
    members, blend = make_members(config), make_blend(config)
    y = data.y.to_numpy()
    classes = np.unique(y)
    tasks = [delayed(fit_production_members)(members, data.X, y, data.t1, dev)]
    tasks += [delayed(fit_members)(members, data.X, y, data.t1, classes, f.index, f.train, f.test) for f in folds]
    warm = warmup_block(y, data.y.index.to_numpy("datetime64[ns]"), data.t1.to_numpy("datetime64[ns]"), folds[0].train)
    if warm is not None:
        tasks.append(delayed(fit_members)(members, data.X, y, data.t1, classes, WARMUP, *warm))
    member_folds, production = _gather(config, tasks, len(folds), progress)
    outcomes = [stacked_outcome(blend, data, member_folds, k, classes)
                for k, fold in enumerate(member_folds) if fold.index != WARMUP]
    model = BlendedEnsemble(production.members, final_blend(blend, y, member_folds, dev))
    warmup_tuning = member_folds[0].tuning if member_folds[0].index == WARMUP else None
    return outcomes, Production(model, production.tuning, warmup_tuning, production.seconds)


def _pool(config: Config, n_tasks: int) -> Parallel:
    return Parallel(n_jobs=min(config.models.fold_jobs, n_tasks), return_as="generator")


def _gather(config: Config, tasks: list, n_folds: int,
            progress: Progress) -> tuple[list[MemberFold], ProductionMembers]:
    """Run the tasks in one pool; split fold results (sorted) from the production fit's result."""
    done_folds, production = [], None
    for done in _pool(config, len(tasks))(tasks):
        if isinstance(done, MemberFold):
            step = "warm-up block" if done.index < 0 else f"fold {done.index + 1}/{n_folds}"
            progress(f"{step} done in {done.seconds:.1f}s")
            log.info("folds: %s fitted in %.2fs", step, done.seconds,
                     extra={"stage": "folds", "metrics": {"fold": None if done.index < 0 else done.index + 1,
                                                          "of": n_folds, "seconds": round(done.seconds, 3)}})
            done_folds.append(done)
        else:
            production = done
            log.info("members: production members fitted on every development row in %.2fs", done.seconds,
                     extra={"stage": "members", "metrics": {"seconds": round(done.seconds, 3)}})
    assert production is not None
    return sorted(done_folds, key=lambda f: f.index), production


def _member_scores(data: LabelledData, outcomes: list[FoldOutcome]) -> dict[str, MemberScore]:
    y = data.y.to_numpy()
    test = np.concatenate([o.test for o in outcomes])
    scores: dict[str, MemberScore] = {}
    for name in outcomes[0].member_test_pred:
        pred = np.concatenate([o.member_test_pred[name] for o in outcomes])
        scores[name] = MemberScore(
            train_accuracy=float(np.mean([o.member_train_accuracy[name] for o in outcomes])),
            oos_accuracy=float(accuracy_score(y[test], pred)),
            f1=float(f1_score(y[test], pred, average="weighted", zero_division=0)),
        )
    return scores


def plan_rows(bars: pd.DataFrame, config: Config, *, reused: ReusedTuning | None = None) -> RowPlan:
    """The :class:`RowPlan` of training ``bars`` with ``config`` (features, labels, splits; no fit)."""
    started = time.perf_counter()
    return plan_labelled(build_labelled_data(bars, config.features, config.labels), config, reused, started)


def train(bars: pd.DataFrame, config: Config, progress: Progress | None = None, *,
          reused: ReusedTuning | None = None, rows: RowPlan | None = None) -> TrainResult:
    """Walk-forward train and evaluate one bar series; return the model and its honest report.

    ``reused``: provenance of tuned parameters in ``config`` from an earlier ``--optimize``
    (:func:`candor.training.runconfig.derive_run_config`) — refused when tuned on this run's
    out-of-sample rows, and its trials counted in ``n_trials``. ``rows``: the plan
    :func:`plan_rows` made of these bars and config (made here when not given).
    """
    rows = rows if rows is not None else plan_rows(bars, config, reused=reused)
    result = _train_planned(rows, config, symbol=symbol_of(bars), timeframe=timeframe_of(bars),
                            fingerprint=data_fingerprint(bars), progress=progress, bars_index=bars.index)
    result.timings["features_labels_s"] = rows.seconds
    t0 = time.perf_counter()
    result.backtest = backtest_oos(result, bars, config.backtest)
    result.timings["backtest_s"] = time.perf_counter() - t0
    log.info("backtest: out-of-sample trades after costs in %.2fs", result.timings["backtest_s"],
             extra={"stage": "backtest", "metrics": {"seconds": round(result.timings["backtest_s"], 3)}})
    result.timings["total_s"] += rows.seconds + result.timings["backtest_s"]
    if config.split.cv == "cpcv":
        from candor.training.cpcv import cpcv_paths, describe

        say = progress or (lambda _msg: None)
        result.cpcv = cpcv_paths(rows.data, rows.dev, config)
        result.timings["cpcv_s"] = result.cpcv["seconds"]
        result.timings["total_s"] += result.cpcv["seconds"]
        say(describe(result.cpcv))
        log.info("cpcv: %s in %.2fs", describe(result.cpcv), result.cpcv["seconds"],
                 extra={"stage": "cpcv", "metrics": {k: result.cpcv[k] for k in ("n_paths", "accuracy", "seconds")}})
    return result


def configurations_tried(config: Config) -> int:
    """Every configuration whose score could have been picked: each member and the ensemble."""
    members = len(config.models.models)
    return members + 1 if members > 1 else 1


def backtest_oos(result: TrainResult, bars: pd.DataFrame, settings: BacktestConfig) -> BacktestResult:
    """Trade the pooled out-of-sample probabilities, next-bar execution, after costs (``settings``:
    the config's ``[backtest]`` section)."""
    # Binary labels have no NEUTRAL column; the backtest reads all three classes.
    proba = result.oos_proba.reindex(columns=[-1, 0, 1], fill_value=0.0)
    return run_backtest(proba, bars, settings, n_trials=result.n_trials)


def train_labelled(
    data: LabelledData,
    config: Config,
    *,
    symbol: str,
    timeframe: str,
    fingerprint: str,
    progress: Progress | None = None,
    bars_index: pd.DatetimeIndex | None = None,
    reused: ReusedTuning | None = None,
) -> TrainResult:
    """The walk-forward, holdout and final fit on an already built feature/label matrix.

    Exposed so that tests can feed manipulated labels (e.g. shuffled) through the exact same code.
    ``bars_index`` is the timestamps of the bars ``data`` was built from (the data span's first
    and last bar); without it the span runs from the first label row to the last label's end.
    """
    rows = plan_labelled(data, config, reused, time.perf_counter())
    return _train_planned(rows, config, symbol=symbol, timeframe=timeframe, fingerprint=fingerprint,
                          progress=progress, bars_index=bars_index)


def _train_planned(rows: RowPlan, config: Config, *, symbol: str, timeframe: str, fingerprint: str,
                   progress: Progress | None, bars_index: pd.DatetimeIndex | None) -> TrainResult:
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    data, dev, hold, folds, extra_trials = rows.data, rows.dev, rows.hold, rows.folds, rows.extra_trials
    say(f"{data.n_samples} samples, {len(folds)} folds, holdout {len(hold)} rows")

    outcomes, production = _run_folds(data, folds, dev, config, say)
    final, timings["final_fit_s"] = production.model, production.seconds
    timings["walk_forward_s"] = time.perf_counter() - started
    oos, oos_proba = pooled_report(data, folds, outcomes, config)
    member_scores = _member_scores(data, outcomes)
    _log_walk_forward(timings["walk_forward_s"], len(folds), oos, member_scores, final)
    holdout, holdout_proba = _holdout_report(data, final, dev, hold, config)
    say("holdout scored")
    log.info("holdout: %d rows, accuracy %s", len(hold), _num(holdout.accuracy),
             extra={"stage": "holdout", "metrics": {"rows": len(hold), "accuracy": holdout.accuracy,
                                                    "log_loss": holdout.log_loss}})

    t0 = time.perf_counter()
    importance = _importance(final, data, hold, config)
    timings["importance_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - started
    test_rows = np.concatenate([o.test for o in outcomes])
    tuning = _tuning_summary(production, outcomes) if config.tune.enabled else None
    read = bars_index if bars_index is not None else pd.DatetimeIndex([data.labels.y.index[0], data.labels.t1.max()])
    return TrainResult(
        symbol=symbol, timeframe=timeframe, n_samples=data.n_samples,
        label=data.labels.spec.describe(), horizon=config.labels.horizon,
        class_distribution=data.labels.distribution(),
        folds=[_fold_summary(data, o, f.n_train, baseline_preds(data, f.train, f.test, config.seed))
               for o, f in zip(outcomes, folds)],
        member_scores=member_scores, oos=oos, holdout=holdout,
        weights=dict(final.weights_), model=final, feature_names=list(data.X.columns),
        calibration=calibration_table(data.y.to_numpy()[test_rows], oos_proba.to_numpy(),
                                      oos_proba.columns.to_numpy()),
        importance=importance, oos_proba=oos_proba, holdout_proba=holdout_proba,
        fingerprint=fingerprint, config=config, feature_set=data.feature_set,
        label_spec=data.labels.spec, warmup=warmup_bars(data.feature_set, timeframe),
        data_span=_data_span(read, data.y.index, dev, hold), timings=timings,
        n_trials=configurations_tried(config) + (tuning or {}).get("n_trials_total", 0) + extra_trials, tuning=tuning,
        conformal=_conformal_calibration(data, holdout_proba, oos_proba),
        oos_rows=oos_table(data, outcomes),
    )


def _class_column(prefix: str, label: int) -> str:
    return f"{prefix}_{CLASS_NAMES.get(int(label), str(label)).lower()}"


def oos_table(data: LabelledData, outcomes: list[FoldOutcome]) -> pd.DataFrame:
    """One row per out-of-sample bar of the walk-forward, oldest first: ``ts``, ``fold`` (1-based),
    each member's class probabilities (``p_<member>_<class>``, e.g. ``p_logreg_bullish``), the
    ensemble's (``p_ensemble_<class>``), ``label`` and ``t1``. Every probability was predicted by
    models that never trained on that row (nor on a row whose label interval overlaps its fold)."""
    if not outcomes:
        return pd.DataFrame(columns=["ts", "fold", "label", "t1"])
    test = np.concatenate([o.test for o in outcomes])
    classes = outcomes[0].classes
    columns: dict[str, np.ndarray] = {
        "ts": data.y.index[test].to_numpy(),
        "fold": np.concatenate([np.full(len(o.test), o.index + 1, dtype=np.int64) for o in outcomes]),
    }
    for name in outcomes[0].member_test_proba:
        stacked = np.vstack([o.member_test_proba[name] for o in outcomes])
        for j, label in enumerate(classes):
            columns[_class_column(f"p_{name}", label)] = stacked[:, j]
    ensemble = np.vstack([o.proba for o in outcomes])
    for j, label in enumerate(classes):
        columns[_class_column("p_ensemble", label)] = ensemble[:, j]
    columns["label"] = data.y.to_numpy()[test].astype(np.int64)
    table = pd.DataFrame(columns)
    table["ts"] = pd.DatetimeIndex(data.y.index[test])  # keeps the time zone
    table["t1"] = pd.DatetimeIndex(data.t1.iloc[test])
    return table


def write_oos_table(table: pd.DataFrame, path):
    """``table`` as Parquet at ``path``, atomically (a failed write leaves nothing there); the path."""
    from candor.outputs import write_atomic

    return write_atomic(path, lambda temporary: table.to_parquet(temporary, index=False),
                 what="out-of-sample probabilities (the training itself finished)")


#: A holdout shorter than this calibrates on the pooled walk-forward rows instead.
MIN_HOLDOUT_SCORES = 50


def _conformal_calibration(data: LabelledData, holdout_proba: pd.DataFrame,
                           oos_proba: pd.DataFrame) -> ConformalCalibration | None:
    """Nonconformity scores of the served model's holdout rows (out of sample for it), or of the
    walk-forward rows when the holdout is short; newest :data:`~candor.conformal.MAX_SCORES`."""
    source, proba = ("holdout", holdout_proba) if len(holdout_proba) >= MIN_HOLDOUT_SCORES else ("oos", oos_proba)
    proba = proba.sort_index()
    if proba.empty:
        return None
    y = data.y.loc[proba.index].to_numpy()
    column = pd.Index(proba.columns).get_indexer(y)
    if (column < 0).any():
        return None
    scores = lac_scores(proba.to_numpy(), column)[-MAX_SCORES:]
    return ConformalCalibration(source=source, scores=tuple(round(float(s), 6) for s in scores))


def _log_walk_forward(seconds: float, n_folds: int, oos: Evaluation, scores: dict[str, MemberScore],
                      final: BlendedEnsemble) -> None:
    """The folds' and the members' lines of the training log (stages ``folds`` and ``members``)."""
    log.info("folds: walk-forward of %d folds in %.2fs, pooled out-of-sample accuracy %s (best baseline %s), %s",
             n_folds, seconds, _num(oos.accuracy), _num(oos.best_baseline_accuracy), oos.verdict,
             extra={"stage": "folds", "metrics": {"folds": n_folds, "seconds": round(seconds, 3),
                                                  "oos_accuracy": oos.accuracy, "lift": oos.lift,
                                                  "verdict": oos.verdict}})
    weights = dict(final.weights_)
    blend = getattr(final, "blend_", None)
    prior = getattr(blend, "prior_weight_", None)
    if prior is not None:
        log.info("members: the class prior's share of the blend (λ) is %.3f", prior,
                 extra={"stage": "members", "metrics": {"prior_weight": float(prior)}})
    for name, score in scores.items():
        log.info("members: %s out-of-sample accuracy %.4f, weight %.3f", name, score.oos_accuracy,
                 weights.get(name, 0.0), extra={"stage": "members", "metrics": {
                     "member": name, "oos_accuracy": score.oos_accuracy, "train_accuracy": score.train_accuracy,
                     "f1": score.f1, "weight": weights.get(name)}})


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _tuning_summary(production: Production, outcomes: list[FoldOutcome]) -> dict | None:
    from candor.training.tuning import tuning_summary  # optuna is imported only when tuning is on

    return tuning_summary(production.tuning, [o.tuning for o in outcomes], warmup=production.warmup_tuning)


def _importance(final: BlendedEnsemble, data: LabelledData, hold: np.ndarray, config: Config) -> pd.DataFrame:
    """Permutation importance of the production model on the holdout rows it never saw."""
    if not config.evaluation.importance_repeats:
        return pd.DataFrame(columns=["feature", "importance", "std"])
    return permutation_importance_oos(
        final, data.X.iloc[hold], data.y.iloc[hold],
        n_repeats=config.evaluation.importance_repeats, random_state=config.seed, top=20,
    )


def _holdout_report(data: LabelledData, final: BlendedEnsemble, dev: np.ndarray, hold: np.ndarray, config: Config):
    classes = np.sort(data.y.unique())
    proba = _aligned_proba(final, data.X.iloc[hold], classes)
    train_acc = float(accuracy_score(data.y.iloc[dev], final.predict(data.X.iloc[dev])))
    report = evaluate_oos(
        data.y.to_numpy()[hold], proba, classes,
        baseline_preds=baseline_preds(data, dev, hold, config.seed),
        horizon=config.labels.horizon, n_boot=config.evaluation.n_boot, alpha=config.evaluation.alpha,
        random_state=config.seed, train_accuracy=train_acc,
        prior_proba=baselines.class_prior(data.y.to_numpy()[dev], classes, len(hold)),
    )
    return report, pd.DataFrame(proba, index=data.y.index[hold], columns=classes)
