"""Train many series — serially, in processes, or on a Dask cluster — and summarise them.

A universe is a list of :class:`SeriesSpec` (an embedded dataset, a file, or bars in memory,
each optionally resampled to a coarser timeframe). Every series trains through
:func:`candor.application.train.run_training` unchanged, so a process-pool or Dask worker writes to the
same home, MLflow store and database as a serial run: workers get the config, never engines or
connections. A failing series becomes a ``failed`` row with its reason; the rest continue.

The series of one universe are judged together: their two-sided p-values are adjusted for the
trials the ledger holds for each series' target and then across the trained series
(:mod:`candor.training.multiplicity`, ``universe.correction``), each row carries
the adjusted p-value and verdict, and with ``registry.require_adjusted_edge`` a registered
version whose edge does not survive the correction is marked ``failed`` with that reason.

Threads are pinned per process: with ``jobs`` processes on ``cores`` cores each one gets
``max(1, cores // jobs)`` model threads (``models.n_jobs`` and OpenMP/BLAS limits), because
OpenMP oversubscription made LightGBM / HistGradientBoosting fits 10–20x slower under load.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import as_completed
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from joblib.externals.loky import get_reusable_executor
from threadpoolctl import threadpool_limits

from candor.config import Config
from candor.data.bars import TIMEFRAMES, check_symbol
from candor.data.datasets import DATASET_NAMES, describe_datasets
from candor.data.gaps import check_calendar
from candor.data.resample import resample
from candor.data.sources import open_bars
from candor.errors import CandorError, ConfigError
from candor.extras import import_extra
from candor.services import open_services
from candor.training.device import DeviceChoice
from candor.training.multiplicity import CORRECTION_NAMES, adjust
from candor.application.train import TrainingOutcome, run_training

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


class ClusterError(CandorError):
    """The Dask scheduler given with ``--dask`` cannot be reached (exit code 1)."""

    exit_code = 1


@dataclass(frozen=True)
class UniverseRow:
    """One line of the universe summary: trained with its verdict, or failed with the reason."""

    name: str
    symbol: str
    timeframe: str
    status: str  # "trained" | "failed"
    samples: int | None = None
    accuracy: float | None = None
    best_baseline: str | None = None
    baseline_accuracy: float | None = None
    lift: float | None = None
    lift_ci_low: float | None = None
    lift_ci_high: float | None = None
    verdict: str | None = None
    reason: str | None = None
    artifact: str | None = None
    seconds: float | None = None
    n_trials: int | None = None
    p_value: float | None = None
    adjusted_p_value: float | None = None
    adjusted_verdict: str | None = None
    correction: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    #: Power beside the verdict (candor.evaluate.detectable_lift): the smallest lift this series' test
    #: detects at 80% power, and the further bars that would detect +2 points.
    mde: float | None = None
    bars_for_2pt: int | None = None


@dataclass(frozen=True)
class SeriesSpec:
    """One series: exactly one of ``dataset`` / ``data`` / ``bars`` / ``source="db"``; ``timeframe``
    resamples.

    ``symbol``, ``tz`` and ``calendar`` are the bar options of ``candor train`` (``--symbol``,
    ``--tz``, ``--calendar``), applied as :func:`candor.data.sources.open_bars` applies them to one
    series: a universe takes every bar option a single series takes. ``source="db"`` is the
    stored series ``symbol`` / ``timeframe`` of the operational store, read as ``candor train
    --source db`` reads it (:func:`candor.ops.context.stored_bars`, with the run's config).
    """

    name: str
    dataset: str | None = None
    data: str | None = None
    timeframe: str | None = None
    bars: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    symbol: str | None = None
    tz: str | None = None
    calendar: str | None = None
    source: str | None = None

    def load(self, config: Config | None = None) -> pd.DataFrame:
        """The validated bars (resampled to ``timeframe`` when coarser than the source); ``config``
        names the operational store of a ``source="db"`` series."""
        if self.source == "db":
            from candor.ops.context import stored_bars  # lazy: only a stored series opens the store

            if config is None or self.symbol is None or self.timeframe is None:
                raise ConfigError(f"series {self.name!r} is read from the database: it needs a symbol, a "
                                  "timeframe and the run's config.")
            return stored_bars(config, self.symbol, self.timeframe)
        if self.bars is None:
            return open_bars(dataset=self.dataset, data=self.data, timeframe=self.timeframe, symbol=self.symbol,
                             tz=self.tz, calendar=self.calendar)
        bars = self.bars
        if self.symbol is not None or self.calendar is not None:
            bars = bars.copy()
            bars.attrs = dict(self.bars.attrs)
            if self.symbol is not None:
                bars.attrs["symbol"] = self.symbol
            if self.calendar is not None:
                bars.attrs["calendar"] = None if self.calendar == "none" else check_calendar(self.calendar)
        if self.timeframe is None or self.timeframe == bars.attrs.get("timeframe"):
            return bars
        return resample(bars, self.timeframe)


@dataclass(frozen=True)
class UniverseProgress:
    """Counts for a progress display: ``running`` is submitted and not yet finished."""

    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    last: UniverseRow | None = None


def _dataset_for(name: str, timeframe: str | None) -> str | None:
    """An embedded dataset by name, or by symbol: the coarsest one fine enough for ``timeframe``."""
    if name in DATASET_NAMES:
        return name
    order = list(TIMEFRAMES)
    candidates = [d for d in describe_datasets() if d.symbol.upper() == name.upper()
                  and (timeframe is None or order.index(d.timeframe) <= order.index(timeframe))]
    if not candidates:
        return None
    return max(candidates, key=lambda d: order.index(d.timeframe)).name


def resolve_series(names: Sequence[str] = (), timeframes: Sequence[str] = (), *, symbol: str | None = None,
                   tz: str | None = None, calendar: str | None = None) -> list[SeriesSpec]:
    """Names (dataset names, dataset symbols such as ``SPX``, or CSV/Parquet paths) × timeframes.

    No names: every embedded dataset. No timeframes: each series at its own. A name that is
    none of these stays in the list and fails when loaded, with the loader's message. ``tz`` and
    ``calendar`` apply to every series; ``symbol`` names the one source of a universe of one name
    (several sources under one symbol would overwrite each other's model, so that is refused).
    """
    sources = list(names or DATASET_NAMES)
    if symbol is not None:
        check_symbol(symbol)
        if len(sources) > 1:
            raise ConfigError(
                f"`symbol` names one series, and this universe has {len(sources)} ({', '.join(sources[:3])}"
                f"{', …' if len(sources) > 3 else ''}). Got {symbol!r}. Leave --symbol out (a file's series is "
                "named after the file, bars.csv → BARS) or train each file on its own with --data and --symbol.")
    check_calendar(calendar)
    specs = []
    for name in sources:
        for tf in timeframes or (None,):
            label = name if tf is None else f"{name}@{tf}"
            dataset = _dataset_for(name, tf)
            options = {"timeframe": tf, "symbol": symbol, "tz": tz, "calendar": calendar}
            if dataset is None and Path(name).exists():
                specs.append(SeriesSpec(label, data=name, **options))
            else:
                specs.append(SeriesSpec(label, dataset=dataset or name, **options))
    return specs


def stored_series(symbols: Sequence[str], timeframes: Sequence[str]) -> list[SeriesSpec]:
    """``--source db``: each stored series symbol × timeframe, checked before any store is opened
    (the rule :func:`candor.ops.context.check_series_request` applies to the forecast job's series)."""
    from candor.ops.context import check_series_request

    if not symbols or not timeframes:
        raise ConfigError("`--source db` reads stored series: name them with --symbols and --timeframes "
                          "(e.g. --symbols BTC-USDT --timeframes h1).")
    check_series_request(symbols, timeframes)
    return [SeriesSpec(f"{s}@{tf}", symbol=s, timeframe=tf, source="db") for s in symbols for tf in timeframes]


# ------------------------------------------------------------------------------- one series
@contextmanager
def pinned_threads(threads: int) -> Iterator[None]:
    """Limit OpenMP/BLAS pools (and env for any child process) to ``threads`` for the block."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: str(threads) for k in _THREAD_VARS})
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def threads_per_process(jobs: int, cores: int | None = None) -> int:
    """``max(1, cores // jobs)``: processes × threads never exceed the cores."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, jobs))


def _trained_row(spec: SeriesSpec, outcome: TrainingOutcome, seconds: float) -> UniverseRow:
    result, oos = outcome.result, outcome.result.oos
    return UniverseRow(
        spec.name, result.symbol, result.timeframe, "trained", samples=result.n_samples,
        accuracy=oos.accuracy, best_baseline=oos.best_baseline, baseline_accuracy=oos.best_baseline_accuracy,
        lift=oos.lift, lift_ci_low=oos.lift_ci_low, lift_ci_high=oos.lift_ci_high, verdict=oos.verdict,
        artifact=str(outcome.artifact) if outcome.artifact else None, seconds=seconds,
        n_trials=getattr(result, "n_trials", None), p_value=oos.p_value, mde=oos.mde, bars_for_2pt=oos.bars_for_2pt,
        model_name=outcome.registered.name if outcome.registered else None,
        model_version=outcome.registered.version if outcome.registered else None,
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, CandorError) else f"{type(exc).__name__}: {text}".rstrip(": ")


def train_series(spec: SeriesSpec, config: Config, *, out: Path | None = None, dry_run: bool = False,
                 track: bool = True, threads: int | None = None, device: DeviceChoice | None = None) -> UniverseRow:
    """Train one series and return its summary row; any exception becomes a ``failed`` row.

    ``threads`` (set for worker processes) pins model threads and runs outer folds serially; the
    run's config is derived from ``config`` by :func:`candor.application.train.run_training`.
    """
    started = time.perf_counter()
    symbol, timeframe = spec.symbol or spec.name.split("@")[0], spec.timeframe or "?"
    try:
        bars = spec.load()
        symbol, timeframe = bars.attrs["symbol"], bars.attrs["timeframe"]
        with pinned_threads(threads) if threads is not None else nullcontext():
            outcome = run_training(bars, config, out=out, dry_run=dry_run, track=track, threads=threads,
                                   device=device, command="candor train (universe)")
    except Exception as exc:  # noqa: BLE001 - a failing series is a row; the universe continues
        return UniverseRow(spec.name, symbol, timeframe, "failed", reason=_reason(exc),
                           seconds=time.perf_counter() - started)
    return _trained_row(spec, outcome, time.perf_counter() - started)


# -------------------------------------------------------------------------------- runners
Report = Callable[[UniverseProgress], None]


def _tally(progress: UniverseProgress, row: UniverseRow | None, running: int) -> UniverseProgress:
    if row is None:
        return replace(progress, running=running)
    failed = progress.failed + (row.status == "failed")
    return replace(progress, done=progress.done + 1, failed=failed, running=running, last=row)


def _run_serial(specs: list[SeriesSpec], config: Config, kwargs: dict, report: Report) -> list[UniverseRow]:
    progress, rows = UniverseProgress(total=len(specs)), []
    for spec in specs:
        report(progress := _tally(progress, None, 1))
        rows.append(train_series(spec, config, **kwargs))
        report(progress := _tally(progress, rows[-1], 0))
    return rows


def _run_processes(specs: list[SeriesSpec], config: Config, kwargs: dict, report: Report) -> list[UniverseRow]:
    """A loky process pool (workers reused, crash-safe); ``jobs`` processes × pinned threads."""
    jobs = min(config.universe.jobs, len(specs))
    threads = threads_per_process(jobs)
    executor = get_reusable_executor(max_workers=jobs, env={k: str(threads) for k in _THREAD_VARS})
    futures = {executor.submit(train_series, spec, config, threads=threads, **kwargs): i for i, spec in enumerate(specs)}
    return _collect(futures, specs, report, running=lambda left: min(jobs, left))


def _collect(futures: dict, specs: list[SeriesSpec], report: Report, running: Callable[[int], int],
             completed: Callable[[Any], Any] = as_completed) -> list[UniverseRow]:
    rows: list[UniverseRow | None] = [None] * len(specs)
    progress = UniverseProgress(total=len(specs), running=running(len(specs)))
    report(progress)
    for future in completed(futures):
        i = futures[future]
        try:
            rows[i] = future.result()
        except Exception as exc:  # noqa: BLE001 - a dead worker process fails its series only
            rows[i] = UniverseRow(specs[i].name, specs[i].name, specs[i].timeframe or "?", "failed", reason=_reason(exc))
        left = len(specs) - progress.done - 1
        report(progress := _tally(progress, rows[i], running(left)))
    return [r for r in rows if r is not None]


def connect_dask(address: str, timeout: float = 5.0) -> Any:
    """A ``distributed.Client`` for ``address``; unreachable → :class:`ClusterError` (one line)."""
    # lazy: distributed is an extra, only needed with --dask, and takes ~0.4 s to import
    Client = import_extra("distributed", "dask", "`--dask`", ClusterError).Client
    try:
        _refuse_a_closed_port(address, timeout)
        return Client(address, timeout=f"{timeout}s", set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError / TimeoutError / ValueError on a bad address
        raise ClusterError(
            f"`dask` scheduler {address!r} is unreachable ({_reason(exc)[:160]}). Fix: start "
            "`dask scheduler` there and workers with candor installed, or check the address."
        ) from None


def _refuse_a_closed_port(address: str, timeout: float) -> None:
    """ConnectionRefusedError at once for a ``tcp://host:port`` nobody listens on: distributed
    retries a refused connection until its whole timeout has passed (5 s for one line)."""
    import socket

    scheme, _, rest = address.rpartition("://")
    host, _, port = rest.rpartition(":")
    if scheme in ("", "tcp") and host and port.isdigit():
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
        except ConnectionRefusedError:
            raise
        except OSError:
            pass  # slow or unresolvable: distributed's own connect decides, with its timeout


def _host_threads(client: Any) -> dict[str, int]:
    """Threads per host = cores // task slots on that host, from the scheduler's worker list."""
    slots: dict[str, int] = {}
    for address, info in client.scheduler_info(n_workers=-1)["workers"].items():
        host = address.split("://")[-1].rsplit(":", 1)[0]
        slots[host] = slots.get(host, 0) + int(info.get("nthreads", 1))
    return slots


def _dask_series(spec: SeriesSpec, config: Config, slots: dict[str, int], kwargs: dict) -> UniverseRow:
    """Runs on a Dask worker: pin threads to this host's share of its cores, then train."""
    from distributed import get_worker  # lazy: runs on a Dask worker only (distributed is needed with --dask only)

    host = get_worker().address.split("://")[-1].rsplit(":", 1)[0]
    return train_series(spec, config, threads=threads_per_process(slots.get(host, 1)), **kwargs)


def _run_dask(specs: list[SeriesSpec], config: Config, kwargs: dict, report: Report) -> list[UniverseRow]:
    from distributed import as_completed as dask_completed  # lazy: distributed is only needed with --dask

    client = connect_dask(config.universe.dask)
    try:
        slots = _host_threads(client)
        capacity = max(1, sum(slots.values()))
        futures = {client.submit(_dask_series, spec, config, slots, kwargs, pure=False, key=f"candor-{i}-{spec.name}"): i
                   for i, spec in enumerate(specs)}
        with client.as_current():
            return _collect(futures, specs, report, running=lambda left: min(capacity, left),
                            completed=lambda fs: dask_completed(list(fs)))
    finally:
        client.close()


def train_universe(
    series: Sequence[SeriesSpec], config: Config, *, out: Path | None = None, dry_run: bool = False,
    track: bool = True, on_progress: Report | None = None, device: DeviceChoice | None = None,
) -> list[UniverseRow]:
    """Train every series (rows in input order): Dask if ``universe.dask``, else ``jobs`` processes.

    Nothing is shared between workers but the config and the paths in it, so the results
    equal a serial run's (same seeds, same data), only sooner.
    """
    specs = list(series)
    if not specs:
        return []
    if track and not dry_run:
        # Create the store's tables and MLflow's schema once, here: parallel workers racing to set up
        # a fresh SQLite MLflow store lost series to "table already exists".
        open_services(config, migrate=True).close()
    kwargs = {"out": out, "dry_run": dry_run, "track": track, "device": device}
    report = on_progress or (lambda _p: None)
    if config.universe.dask:  # other hosts probe their own device
        rows = _run_dask(specs, config, {**kwargs, "device": None}, report)
    elif config.universe.jobs > 1 and len(specs) > 1:
        rows = _run_processes(specs, config, kwargs, report)
    else:
        rows = _run_serial(specs, config, kwargs, report)
    rows = judge_together(rows, config)
    if track and not dry_run:
        record_universe_verdicts(rows, config)
    return rows


def judge_together(rows: Sequence[UniverseRow], config: Config) -> list[UniverseRow]:
    """Every trained row with its p-value adjusted across the trained rows (module docstring): first
    for the trials the ledger holds for its own target (``n_trials``, the count its Deflated Sharpe
    deflates for), then across the series (:func:`candor.training.multiplicity.adjust`)."""
    trained = [i for i, r in enumerate(rows) if r.status == "trained" and r.p_value is not None]
    judged = adjust([rows[i].p_value for i in trained], [rows[i].lift or 0.0 for i in trained],
                    method=config.universe.correction, alpha=config.evaluation.alpha,
                    trials=[rows[i].n_trials for i in trained])
    out = list(rows)
    for i, j in zip(trained, judged):
        out[i] = replace(rows[i], adjusted_p_value=j.adjusted_p_value, adjusted_verdict=str(j.verdict),
                         correction=j.correction)
    return out


def record_universe_verdicts(rows: Sequence[UniverseRow], config: Config) -> None:
    """Tag each registered version with its adjusted verdict; fail it where the gate requires the edge."""
    registered = [r for r in rows if r.model_name and r.model_version and r.adjusted_p_value is not None]
    if not registered:
        return
    require = config.registry.require_edge and config.registry.require_adjusted_edge
    services = open_services(config)
    try:
        for row in registered:
            services.registry.record_universe_verdict(
                row.model_name, row.model_version, adjusted_p_value=row.adjusted_p_value,
                verdict=row.adjusted_verdict, correction=CORRECTION_NAMES[row.correction or "none"],
                n_series=len([r for r in rows if r.adjusted_p_value is not None]), require_edge=require,
            )
    finally:
        services.close()
