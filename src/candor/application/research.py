"""``candor research``: search a grid of configurations over many series; report what survives.

The grid is series × horizons × label kinds × thresholds × member sets × feature-group sets
(:class:`ResearchGrid`). Each series is one task — serially, in ``jobs`` processes or on a Dask
cluster, the universe runner's pools (:mod:`candor.application.universe`) — and inside it every
cell is evaluated by :func:`candor.training.search.search_series`: ``candor train``'s purged
walk-forward, baselines and paired test, with features, labels, folds and member fits computed
once and shared.

Then the search is judged as a whole (:mod:`candor.training.snooping`): Romano–Wolf stepdown on
Hansen's SPA within each series; then each cell's within-series p-value counts its target's earlier
trials in the ledger (series × horizon × label kind, across runs and sessions: the count recorded
before this run writes its own rows, ``n_prior_trials``) by the universe's rule,
:func:`candor.training.multiplicity.per_target` — Šidák's ``1 − (1 − p)^k`` with ``k = 1 +
n_prior_trials``, this run's stepdown counting as one trial; Benjamini–Hochberg across series on
the counted p-values, and the PBO by CSCV over every evaluated cell. The answer is one sentence —
"0 of 48 configurations survive the search; PBO 0.62" — and a table with each cell's lift, CI,
raw and adjusted p-value and whether it survives.

Research registers nothing (no artifact, no MLflow run, no model version), but every evaluated
cell is a row of the trial ledger (``command = "candor research"``, recorded as a dry run), so the
next ``candor train`` of that target deflates its Sharpe for these trials too.
A cell that fails (a series too short for its horizon, one class left) is a row with its reason;
the others continue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import as_completed
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from candor import __version__
from candor.config import Config
from candor.errors import ConfigError
from candor.records.ledger import Trial
from candor.records.specs import FEATURE_GROUPS, LabelSpec
from candor.training.multiplicity import per_target
from candor.training.search import THRESHOLD_KINDS, Cell, CellResult, cell_config, failed_cells, reason_of, search_series
from candor.training.snooping import across_series, cell_p_adjusted, pbo_of_cells, romano_wolf
from candor.application.universe import (
    _THREAD_VARS, SeriesSpec, _host_threads, connect_dask, pinned_threads, threads_per_process,
)

log = logging.getLogger(__name__)

COMMAND = "candor research"
#: Fewest rows a series' cells must share for the SPA stepdown; below it the series' cells are
#: adjusted by Holm on their own p-values instead (said in the row's note).
MIN_COMMON_ROWS = 50
#: Seconds to reach a ``--dask`` scheduler before the search is refused (one line, exit 1).
DASK_TIMEOUT = 5.0


@dataclass(frozen=True)
class ResearchGrid:
    """What to search: series and, per series, every combination of the other axes."""

    series: tuple[SeriesSpec, ...]
    horizons: tuple[int, ...]
    labels: tuple[str, ...]
    thresholds: tuple[float, ...]
    models: tuple[tuple[str, ...], ...]
    feature_groups: tuple[tuple[str, ...], ...]


def grid_cells(grid: ResearchGrid, config: Config) -> list[Cell]:
    """Every distinct cell of one series, checked against the config's rules (ConfigError, one
    line, before any bar is read). The threshold axis collapses for label kinds that ignore it."""
    axes = {"series (--data, --dataset or --symbols)": grid.series, "--horizons": grid.horizons,
            "--labels": grid.labels, "--thresholds": grid.thresholds, "--models": grid.models,
            "--feature-groups": grid.feature_groups}
    empty = [name for name, values in axes.items() if not values]
    if empty:
        raise ConfigError(f"the research grid is empty: no {', '.join(empty)} given; name at least one of each.")
    cells: list[Cell] = []
    for h in grid.horizons:
        for kind in grid.labels:
            for thr in grid.thresholds if kind in THRESHOLD_KINDS else (None,):
                for models in grid.models:
                    for groups in grid.feature_groups:
                        cell = Cell(int(h), kind, thr, tuple(models), _ordered_groups(groups))
                        if cell not in cells:
                            cells.append(cell)
    for cell in cells:
        try:
            cell_config(config, cell)
        except ConfigError as exc:
            raise ConfigError(f"research cell {cell.name}: {exc}") from None
        except ValueError as exc:  # pydantic's, for a spec built from a dict
            raise ConfigError(f"research cell {cell.name}: {str(exc).splitlines()[0]}") from None
    return cells


def _ordered_groups(groups: Sequence[str]) -> tuple[str, ...]:
    wanted = set(FEATURE_GROUPS) if "all" in groups else set(groups)
    unknown = wanted - set(FEATURE_GROUPS)
    if unknown or not wanted:
        raise ConfigError(f"`--feature-groups` must name groups among {', '.join(FEATURE_GROUPS)} (or all). "
                          f"Got {', '.join(sorted(unknown)) or 'none'}.")
    return tuple(g for g in FEATURE_GROUPS if g in wanted)


@dataclass(frozen=True)
class ResearchRow:
    """One cell's line: its test, its adjusted p-value and whether it survives the search."""

    series: str
    symbol: str
    timeframe: str
    cell: str
    horizon: int
    label: str
    threshold: float | None
    models: tuple[str, ...]
    feature_groups: tuple[str, ...]
    status: str  # "evaluated" | "failed"
    reason: str | None = None
    n_rows: int | None = None
    accuracy: float | None = None
    best_baseline: str | None = None
    lift: float | None = None
    lift_ci_low: float | None = None
    lift_ci_high: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    survives: bool = False
    block_length: int | None = None
    note: str | None = None
    n_prior_trials: int | None = None  # the target's ledger trials before this run, counted in p_adjusted
    seconds: float | None = None
    cpcv: dict | None = None  # --cv cpcv: the cell's path distribution of accuracy and Sharpe


@dataclass(frozen=True)
class ResearchReport:
    rows: list[ResearchRow]
    n_cells: int  # evaluated cells (the failed ones are rows with a reason)
    n_survivors: int
    n_failed: int
    pbo: float | None
    alpha: float
    n_series: int
    series_selected: int
    trials_recorded: int | None
    oos_rows: pd.DataFrame | None = None  # keep_oos: every evaluated cell's out-of-sample rows (:func:`oos_rows`)

    @property
    def sentence(self) -> str:
        pbo = "n/a (fewer than 2 cells)" if self.pbo is None else f"{self.pbo:.2f}"
        failed = f" ({self.n_failed} failed)" if self.n_failed else ""
        return (f"{self.n_survivors} of {self.n_cells} configurations survive the search{failed}; PBO {pbo}")

    def document(self) -> dict[str, Any]:
        """The ``--output-json`` document."""
        return {"cells": [_row_json(r) for r in self.rows], "n_cells": self.n_cells,
                "n_survivors": self.n_survivors, "n_failed": self.n_failed, "pbo": self.pbo, "alpha": self.alpha,
                "n_series": self.n_series, "series_selected": self.series_selected, "sentence": self.sentence,
                "trials_recorded": self.trials_recorded}


def _row_json(row: ResearchRow) -> dict[str, Any]:
    out = dict(row.__dict__)
    out["models"], out["feature_groups"] = list(row.models), list(row.feature_groups)
    return out


@dataclass(frozen=True)
class ResearchProgress:
    total_cells: int
    total_series: int
    done_cells: int = 0
    failed_cells: int = 0
    done_series: int = 0
    last: str | None = None


Report = Callable[[ResearchProgress], None]


# ------------------------------------------------------------------------------ one series
def research_series(spec: SeriesSpec, config: Config, cells: Sequence[Cell], threads: int | None = None, *,
                    keep_oos: bool = False) -> list[CellResult]:
    """Every cell of one series; a series that cannot be read fails each of its cells with the reason.
    ``keep_oos``: each cell keeps its per-bar out-of-sample probabilities (``--oos-out``)."""
    try:
        bars = spec.load(config)
    except Exception as exc:  # noqa: BLE001 - an unreadable series is rows with the reason
        return failed_cells(spec.name, spec.name.split("@")[0], spec.timeframe or "?", cells, reason_of(exc))
    name = str(bars.attrs.get("symbol", spec.name)) if spec.data is not None else spec.name  # a file: its symbol
    with pinned_threads(threads) if threads is not None else nullcontext():
        return search_series(bars, config, cells, series=name, keep_oos=keep_oos)


@dataclass(frozen=True)
class SeriesOutcome:
    """One series' cells and their within-series judgement (computed where the cells were, so a
    pool's workers share the stepdowns instead of the parent running them one after another)."""

    results: list[CellResult]
    within: _Within


def _outcome(results: list[CellResult], config: Config) -> SeriesOutcome:
    return SeriesOutcome(results, _within_series(results, config))


def _series_task(spec: SeriesSpec, config: Config, cells: Sequence[Cell], threads: int | None = None,
                 keep_oos: bool = False) -> SeriesOutcome:
    """A pool's or a Dask worker's task: one series' cells, then their Romano–Wolf stepdown."""
    results = research_series(spec, config, cells, threads, keep_oos=keep_oos)
    with pinned_threads(threads) if threads is not None else nullcontext():
        return _outcome(results, config)


def _dask_series(spec: SeriesSpec, config: Config, cells: Sequence[Cell], slots: dict[str, int],
                 keep_oos: bool = False) -> SeriesOutcome:
    from distributed import get_worker  # lazy: runs on a Dask worker only

    host = get_worker().address.split("://")[-1].rsplit(":", 1)[0]
    return _series_task(spec, config, cells, threads=threads_per_process(slots.get(host, 1)), keep_oos=keep_oos)


def _tally(progress: ResearchProgress, outcome: SeriesOutcome) -> ResearchProgress:
    done = outcome.results
    failed = sum(r.status == "failed" for r in done)
    return replace(progress, done_cells=progress.done_cells + len(done), failed_cells=progress.failed_cells + failed,
                   done_series=progress.done_series + 1, last=done[0].series if done else None)


def _run(grid: ResearchGrid, config: Config, cells: list[Cell], jobs: int, dask: str | None,
         report: Report, keep_oos: bool = False) -> list[SeriesOutcome]:
    specs = list(grid.series)
    progress = ResearchProgress(total_cells=len(specs) * len(cells), total_series=len(specs))
    report(progress)
    out: list[SeriesOutcome | None] = [None] * len(specs)
    if dask:
        from distributed import as_completed as dask_completed  # lazy: distributed is only needed with --dask

        client = connect_dask(dask, timeout=DASK_TIMEOUT)
        try:
            slots = _host_threads(client)
            futures = {client.submit(_dask_series, spec, config, cells, slots, keep_oos, pure=False,
                                     key=f"candor-research-{i}-{spec.name}"): i for i, spec in enumerate(specs)}
            with client.as_current():
                for future in dask_completed(list(futures)):
                    i = futures[future]
                    out[i] = _result(future, specs[i], cells, config)
                    report(progress := _tally(progress, out[i]))
        finally:
            client.close()
    elif jobs > 1 and len(specs) > 1:
        from joblib.externals.loky import get_reusable_executor

        workers = min(jobs, len(specs))
        threads = threads_per_process(workers)
        executor = get_reusable_executor(max_workers=workers, env={k: str(threads) for k in _THREAD_VARS})
        futures = {executor.submit(_series_task, spec, config, cells, threads, keep_oos): i for i, spec in enumerate(specs)}
        for future in as_completed(futures):
            i = futures[future]
            out[i] = _result(future, specs[i], cells, config)
            report(progress := _tally(progress, out[i]))
    else:
        for i, spec in enumerate(specs):
            out[i] = _series_task(spec, config, cells, keep_oos=keep_oos)
            report(progress := _tally(progress, out[i]))
    return [r for r in out if r is not None]


def _result(future: Any, spec: SeriesSpec, cells: Sequence[Cell], config: Config) -> SeriesOutcome:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a dead worker fails its series' cells only
        return _outcome(failed_cells(spec.name, spec.name.split("@")[0], spec.timeframe or "?", cells,
                                     reason_of(exc)), config)


# --------------------------------------------------------------------------- the judgement
@dataclass(frozen=True)
class _Within:
    p: dict[int, float]  # cell position → within-series adjusted p
    family_p: float
    block: int | None
    note: str | None


def _within_series(results: list[CellResult], config: Config) -> _Within:
    """Romano–Wolf stepdown on SPA over one series' evaluated cells, on the rows they share."""
    evaluated = [i for i, r in enumerate(results) if r.status == "evaluated"]
    if not evaluated:
        return _Within({}, 1.0, None, None)
    common = results[evaluated[0]].rows
    for i in evaluated[1:]:
        common = np.intersect1d(common, results[i].rows)
    if len(common) < MIN_COMMON_ROWS:
        from candor.training.multiplicity import adjust_p_values

        p = adjust_p_values([results[i].evaluation.p_value for i in evaluated], "holm")
        note = f"cells share {len(common)} rows: within-series Holm on their own p-values, not SPA"
        return _Within(dict(zip(evaluated, map(float, p))), float(min(p)), None, note)
    d = np.column_stack([pd.Series(results[i].d, index=results[i].rows).reindex(common).to_numpy()
                         for i in evaluated])
    block = max(int(results[i].evaluation.block_length or 1) for i in evaluated)
    block = max(1, min(block, len(common) // 4))
    test = romano_wolf(d, block=block, reps=config.evaluation.n_boot, alpha=config.evaluation.alpha,
                       seed=config.seed)
    return _Within(dict(zip(evaluated, map(float, test.p_adjusted))), test.spa_p_value, block, None)


Target = tuple[str, str, int, str]  # the ledger's: symbol, timeframe, horizon, label kind


def target_of(r: CellResult) -> Target:
    return (r.symbol, r.timeframe, r.cell.horizon, r.cell.label)


def _counted(results: list[CellResult], within: _Within, prior: Mapping[Target, int]) -> _Within:
    """``within`` with each cell's p counting its target's earlier ledger trials (module docstring);
    the family p-value is the smallest counted one (the stepdown's own when no target has any)."""
    if not within.p:
        return within
    cells = list(within.p)
    counted = per_target([within.p[i] for i in cells], [1 + prior.get(target_of(results[i]), 0) for i in cells])
    p = dict(zip(cells, map(float, counted)))
    return replace(within, p=p, family_p=max(within.family_p, min(p.values())))


def judge(outcomes: list[SeriesOutcome], config: Config,
          prior: Mapping[Target, int] | None = None) -> tuple[list[ResearchRow], float | None, int]:
    """The rows of every cell with their adjusted p-values and survival; the PBO; series selected.
    ``prior``: each target's trials in the ledger before this run (none: 0 each)."""
    alpha, prior = config.evaluation.alpha, prior or {}
    per_series = [o.results for o in outcomes]
    within = [_counted(o.results, o.within, prior) for o in outcomes]
    has_cells = [k for k, w in enumerate(within) if w.p]
    across = across_series([within[k].family_p for k in has_cells], alpha)
    q_of = dict(zip(has_cells, map(float, across.q)))
    rows = []
    for k, results in enumerate(per_series):
        for i, r in enumerate(results):
            p_adj = None if i not in within[k].p else max(
                float(r.evaluation.p_value), cell_p_adjusted(within[k].p[i], q_of[k], across))
            rows.append(_row(r, p_adj, within[k], alpha, prior.get(target_of(r), 0)))
    evaluated = [r for results in per_series for r in results if r.status == "evaluated"]
    pbo = pbo_of_cells([r.d for r in evaluated])
    return rows, None if pbo is None else pbo.pbo, across.selected


def _row(r: CellResult, p_adjusted: float | None, within: _Within, alpha: float, n_prior: int) -> ResearchRow:
    c, e = r.cell, r.evaluation
    base = dict(series=r.series, symbol=r.symbol, timeframe=r.timeframe, cell=f"{r.series}/{c.name}",
                horizon=c.horizon, label=c.label, threshold=c.threshold, models=c.models, feature_groups=c.groups,
                status=r.status, reason=r.reason, seconds=round(r.seconds, 3))
    if e is None:
        return ResearchRow(**base)
    lift = float(e.lift)
    return ResearchRow(**base, n_rows=int(e.n), accuracy=float(e.accuracy), best_baseline=e.best_baseline,
                       lift=lift, lift_ci_low=float(e.lift_ci_low), lift_ci_high=float(e.lift_ci_high),
                       p_value=float(e.p_value), p_adjusted=p_adjusted,
                       survives=bool(p_adjusted is not None and p_adjusted < alpha and lift > 0),
                       block_length=within.block, note=within.note, n_prior_trials=n_prior, cpcv=r.cpcv)


# ------------------------------------------------------------------------------ the ledger
def trial_of(r: CellResult) -> Trial:
    e = r.evaluation
    assert e is not None
    return Trial(
        symbol=r.symbol, timeframe=r.timeframe, horizon=r.cell.horizon, label_kind=r.cell.label, label=r.label,
        config_hash=r.config_hash, data_fingerprint=r.data_fingerprint, data_first=r.first_bar,
        data_last=r.last_bar, n_samples=r.n_samples, n_trials=max(1, r.n_trials), lift=e.lift,
        lift_ci_low=e.lift_ci_low, lift_ci_high=e.lift_ci_high, p_value=e.p_value,
        verdict=None if e.verdict is None else str(e.verdict), dry_run=True, command=COMMAND,
        candor_version=__version__,
    )


def prior_trials(bind: Any, targets: Sequence[Target]) -> dict[Target, int]:
    """Each target's trial count in the ledger (``bind``: the store's engine or an open connection)."""
    from candor.store.ledger import trial_count

    return {t: trial_count(bind, *t) for t in targets}


def judge_in_ledger(outcomes: list[SeriesOutcome], config: Config, *, record: bool = True,
                    actor: str | None = None) -> tuple[list[ResearchRow], float | None, int, int | None]:
    """:func:`judge` with each target's earlier ledger trials, then (``record``) every evaluated cell
    appended to the ledger: the rows, PBO, series selected and the number of rows written.

    Recording, it is one transaction — the counts are read before this run's rows are written, and
    every cell is written or none; the store is opened (created where it is the embedded default)
    only once the search is done, so a refused search leaves ``<home>`` as it was (:func:`run_research`
    checked it before the search: :func:`candor.application.ledger.check_ledger`). Not recording,
    an existing ledger is only read, by a dry ``candor train``'s rule
    (:func:`candor.application.ledger.ledger_store`: a fresh home stays as it was, its counts 0)."""
    evaluated = [r for o in outcomes for r in o.results if r.status == "evaluated"]
    targets = sorted({target_of(r) for r in evaluated})
    if not evaluated:
        return (*judge(outcomes, config), 0 if record else None)
    if not record:
        from candor.application.ledger import ledger_store

        with ledger_store(config, None) as store:
            prior = {} if store is None else prior_trials(store.engine, targets)
        return (*judge(outcomes, config, prior), None)
    from candor.services import open_store
    from candor.store.engine import transaction
    from candor.store.ledger import record_trial

    with open_store(config) as store, transaction(store.engine) as connection:
        prior = prior_trials(connection, targets)
        judged = judge(outcomes, config, prior)
        for r in evaluated:  # one commit, not one a cell
            record_trial(connection, trial_of(r).model_copy(update={"prior_trials": prior[target_of(r)],
                                                                      "actor": actor}))
    return (*judged, len(evaluated))


# ------------------------------------------------------------------------------- the entry
def run_research(grid: ResearchGrid, config: Config, *, jobs: int = 1, dask: str | None = None,
                 on_progress: Report | None = None, record: bool = True, actor: str | None = None,
                 keep_oos: bool = False) -> ResearchReport:
    """Search ``grid`` and judge it (module docstring). ``dask``: a scheduler address (unreachable →
    :class:`~candor.application.universe.ClusterError`, before any cell runs); ``record``: write
    every evaluated cell to the trial ledger, a ledger that cannot take them refused before any cell
    runs (:func:`~candor.application.ledger.check_ledger`; its earlier trials are counted either way:
    :func:`judge_in_ledger`); ``keep_oos``: the report's ``oos_rows`` hold every
    evaluated cell's per-bar out-of-sample probabilities (``--oos-out``). ``config.split.cv ==
    "cpcv"`` adds each cell's CPCV path distribution (``--cv cpcv``)."""
    started = time.perf_counter()
    cells = grid_cells(grid, config)
    if record:  # the ledger the cells go to, refused now rather than after the search (nothing created)
        from candor.application.ledger import check_ledger

        check_ledger(config)
    outcomes = _run(grid, config, cells, jobs, dask, on_progress or (lambda _p: None), keep_oos)
    rows, pbo, selected, recorded = judge_in_ledger(outcomes, config, record=record, actor=actor)
    n_cells = sum(r.status == "evaluated" for r in rows)
    log.info("research: %d cells in %.1fs", len(rows), time.perf_counter() - started)
    return ResearchReport(rows, n_cells, sum(r.survives for r in rows), len(rows) - n_cells, pbo,
                          config.evaluation.alpha, len(outcomes), selected, recorded,
                          oos_rows(outcomes) if keep_oos else None)


def oos_rows(outcomes: list[SeriesOutcome]) -> pd.DataFrame:
    """Every evaluated cell's :func:`candor.training.run.oos_table` rows, led by ``series`` and
    ``cell`` columns (a probability column a cell does not have — another member, or the neutral
    class of a binary label — is empty on its rows)."""
    tables = [r.oos_rows.assign(series=r.series, cell=r.cell.name)
              for o in outcomes for r in o.results if r.status == "evaluated" and r.oos_rows is not None]
    if not tables:
        return pd.DataFrame(columns=["series", "cell", "ts", "fold", "label", "t1"])
    table = pd.concat(tables, ignore_index=True)
    return table[["series", "cell", *[c for c in table.columns if c not in ("series", "cell")]]]


def parse_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """Label kinds, checked against :class:`LabelSpec`'s (ConfigError names the bad one)."""
    kinds = LabelSpec.model_fields["kind"].annotation.__args__  # the Literal's values
    bad = [k for k in labels if k not in kinds]
    if bad:
        raise ConfigError(f"`--labels` must be among {', '.join(kinds)}. Got {', '.join(bad)}.")
    return tuple(labels)
