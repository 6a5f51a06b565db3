"""Read models for the API and the pages: what a series looks like right now.

Why a module of its own: the JSON endpoints and the HTML pages show the same facts (champion,
its numbers beside the baseline, latest forecast, drift status); computing them once keeps the
two from disagreeing. Everything here is plain Python over the store and the registry — no
FastAPI — so it can be tested without a server.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, defer

from candor.registry.common import DEFAULT_HORIZON, model_name, parse_model_name
from candor.errors import RegistryError
from candor.store import DriftRow, MlForecast, TrainingRun, drift_rows, latest_training_runs
from candor.store._rows import fetch_all
from candor.store.forecasts import ABSTAIN
from candor.records.report import TrainingReport, parse_report

#: Enough history to find every series' latest rows on any realistic deployment.
_RUN_SCAN = 5000


@dataclass(frozen=True)
class Series:
    """One symbol × timeframe; each label horizon is its own registered model under it."""

    symbol: str
    timeframe: str
    name: str
    horizons: tuple[int, ...] = (DEFAULT_HORIZON,)

    def model_name(self, horizon: int) -> str:
        return model_name(self.symbol, self.timeframe, horizon)


@dataclass
class SeriesState:
    """One row of the overview: a series' champion at one horizon, its evidence, latest call, health."""

    series: Series
    horizon: int = DEFAULT_HORIZON
    champion: str | None = None
    previous: str | None = None
    versions: int = 0
    latest: str | None = None
    trained_at: dt.datetime | None = None
    age_days: int | None = None
    run: TrainingRun | None = None
    forecast: MlForecast | None = None
    drift: DriftRow | None = None
    consensus: tuple[str, float] | None = None
    consensus_basis: str | None = None  # how the vote was formed: one vote per timeframe, how many voted
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The registered model of this horizon (``candor.SPX.d1`` or ``candor.SPX.d1.h20``)."""
        return self.series.model_name(self.horizon)


def all_runs(engine: Engine, symbol: str | None = None, timeframe: str | None = None) -> list[TrainingRun]:
    return latest_training_runs(engine, symbol, timeframe, limit=_RUN_SCAN)


def _run_keys(engine: Engine) -> list[tuple[str, str, int]]:
    """(symbol, timeframe, horizon) of every training run, without loading a single report (the
    stored report is tens of kB of JSON per run; the overview read each one on every request)."""
    query = sa.select(TrainingRun.symbol, TrainingRun.timeframe, TrainingRun.horizon).distinct()
    with engine.connect() as connection:
        return [(symbol, timeframe, int(horizon)) for symbol, timeframe, horizon in connection.execute(query)]


#: How long an overview computed from the store may serve when no high-water mark moved: rows
#: updated in place (a forecast resolved, today's drift verdict revised) move none.
DATA_MAX_AGE_S = 2.0


def data_mark(engine: Engine) -> tuple[Any, ...]:
    """New forecast and drift rows, and the newest resolution (primary-key and indexed maxima: O(1)
    on any table size). A resolution stamped with a past time, a replaced unresolved forecast or a
    revised drift verdict moves none of them: those show after :data:`DATA_MAX_AGE_S`."""
    query = sa.select(sa.select(sa.func.max(MlForecast.id)).scalar_subquery(),
                      sa.select(sa.func.max(MlForecast.resolved_at)).scalar_subquery(),
                      sa.select(sa.func.max(DriftRow.id)).scalar_subquery())
    with engine.connect() as connection:
        return tuple(connection.execute(query).one())


def memo(engine: Engine, registry: Any, key: str, compute: Any) -> Any:
    """``compute()`` cached with the registry's state snapshot (:mod:`candor.registry.state`):
    recomputed when an alias moves or a run is recorded in any process, when a forecast or drift
    row is added, or after :data:`DATA_MAX_AGE_S`. A registry without that state computes."""
    state = getattr(registry, "state", None)
    if state is None:
        return compute()
    return state.derived(key, lambda: data_mark(engine), compute, DATA_MAX_AGE_S)


def list_series(engine: Engine, registry: Any) -> list[Series]:
    """Every series that has a registered model or a training run, sorted by symbol then timeframe,
    each with the horizons it has models or runs for (``candor.SPX.d1.h20`` is SPX/d1 at 20)."""
    return list(memo(engine, registry, "list_series", lambda: _list_series(engine, registry)))


def _list_series(engine: Engine, registry: Any) -> list[Series]:
    found: dict[str, tuple[str, str]] = {}  # plain model name → (symbol, timeframe), first spelling wins
    horizons: dict[str, set[int]] = {}
    for symbol, timeframe, horizon in sorted(_run_keys(engine)):
        plain = model_name(symbol, timeframe)
        found.setdefault(plain, (symbol, timeframe))
        horizons.setdefault(plain, set()).add(horizon)
    for model in registry.list_models():
        try:
            ref = parse_model_name(model.name)
        except RegistryError:
            continue  # not a name candor builds: nothing of ours to show
        plain = model_name(ref.symbol, ref.timeframe)
        found.setdefault(plain, (ref.symbol, ref.timeframe))
        horizons.setdefault(plain, set()).add(ref.horizon)
    order = ("m1", "m5", "m15", "h1", "h4", "d1", "w1")
    series = [Series(symbol, timeframe, plain, tuple(sorted(horizons[plain])))
              for plain, (symbol, timeframe) in found.items()]
    return sorted(series, key=lambda s: (s.symbol, order.index(s.timeframe) if s.timeframe in order else 99))


def known_symbols(engine: Engine, registry: Any) -> list[str]:
    """Symbols anything is known about (training runs, forecasts, registered models)."""
    symbols = {s.symbol for s in list_series(engine, registry)}
    with Session(engine) as session:
        symbols |= set(session.scalars(sa.select(MlForecast.symbol).distinct()))
    return sorted(symbols)


def champion_version(registry: Any, name: str) -> str | None:
    """The registered model's champion version (None when unregistered or without one), from the
    registry's cached model list."""
    return next((m.champion for m in registry.list_models() if m.name == name), None)


def run_for_version(engine: Engine, symbol: str, timeframe: str, version: str | None,
                    horizon: int | None = None) -> TrainingRun | None:
    """The training run that produced ``version`` (newest run when no version is given); with a
    ``horizon``, only that horizon's runs (version numbers repeat across horizon models).

    The series' runs are scanned without their reports and only the one picked is read whole: a
    series retrained daily has hundreds of runs, each with tens of kB of report JSON to decode."""
    picked = pick_run(runs_without_reports(engine, symbol, timeframe), version, horizon)
    if picked is None:
        return None
    found = fetch_all(engine, sa.select(TrainingRun).where(TrainingRun.id == picked.id))
    return found[0] if found else None


def pick_run(runs: list[TrainingRun], version: str | None, horizon: int | None = None) -> TrainingRun | None:
    """:func:`run_for_version` over runs already loaded (newest first)."""
    if horizon is not None:
        runs = [r for r in runs if r.horizon == horizon]
    if version is None:
        return runs[0] if runs else None
    return next((r for r in runs if r.model_version == str(version)), None)


#: Parsed reports by training-run id: a recorded run's report never changes, and parsing one (its
#: equity curve, folds, calibration) cost more than the rest of the model page.
_REPORTS: dict[tuple[int, str], TrainingReport] = {}
_REPORTS_KEPT = 256


def run_report(run: TrainingRun | None) -> TrainingReport | None:
    """The run's stored report as a record (parsed once per run and process); None without one."""
    if run is None or not run.report:
        return None
    key = (int(run.id), str(run.mlflow_run_id))
    report = _REPORTS.get(key)
    if report is None:
        report = parse_report(run.report)
        if len(_REPORTS) >= _REPORTS_KEPT:
            _REPORTS.pop(next(iter(_REPORTS)), None)
        _REPORTS[key] = report
    return report


def runs_without_reports(engine: Engine, symbol: str | None = None, timeframe: str | None = None, *,
                         limit: int = _RUN_SCAN) -> list[TrainingRun]:
    """:func:`all_runs` without the report documents (tens of kB of JSON each) — the overview,
    ``/api/models`` and ``/api/training-runs`` show a run's headline columns; touching ``.report`` raises."""
    query = sa.select(TrainingRun).options(defer(TrainingRun.report, raiseload=True))
    for column, value in ((TrainingRun.symbol, symbol), (TrainingRun.timeframe, timeframe)):
        if value is not None:
            query = query.where(column == value)
    return fetch_all(engine, query.order_by(TrainingRun.run_date.desc(), TrainingRun.id.desc()).limit(limit))


def latest_forecasts(engine: Engine, symbol: str | None = None) -> dict[tuple[str, str, int], MlForecast]:
    """The newest forecast per symbol/timeframe/horizon, picked by the database (one row per key
    comes back, not the 20,000 newest rows of every series)."""
    keys = (MlForecast.symbol, MlForecast.timeframe, MlForecast.horizon)
    # shadow forecasts (a shadow challenger's, candor.registry.Registry.shadow) are never served
    newest_ts = sa.select(*keys, sa.func.max(MlForecast.bar_ts).label("bar_ts")).where(
        MlForecast.shadow.is_(False)).group_by(*keys)
    if symbol is not None:
        newest_ts = newest_ts.where(MlForecast.symbol == symbol)
    latest = newest_ts.subquery()
    query = sa.select(MlForecast).join(latest, sa.and_(
        MlForecast.symbol == latest.c.symbol, MlForecast.timeframe == latest.c.timeframe,
        MlForecast.horizon == latest.c.horizon, MlForecast.bar_ts == latest.c.bar_ts)).where(
        MlForecast.shadow.is_(False))
    newest: dict[tuple[str, str, int], MlForecast] = {}
    with Session(engine, expire_on_commit=False) as session:
        for row in session.scalars(query.order_by(MlForecast.bar_ts.desc(), MlForecast.horizon)):
            newest.setdefault((row.symbol, row.timeframe, row.horizon), row)
        session.expunge_all()
    return newest


def consensus(forecasts: list[MlForecast]) -> tuple[str, float] | None:
    """Multi-timeframe vote: the forecast job's stored consensus when it wrote one, else a plain
    majority of each timeframe's latest direction (agreement = share of timeframes agreeing)."""
    if not forecasts:
        return None
    stored = [f for f in forecasts if f.consensus_direction]
    if stored:
        best = max(stored, key=lambda f: f.bar_ts)
        return best.consensus_direction or "", float(best.consensus_agreement or 0.0)
    votes = Counter(f.direction for f in forecasts)
    direction, count = votes.most_common(1)[0]
    return direction, count / len(forecasts)


def series_states(engine: Engine, registry: Any, now: dt.datetime | None = None) -> list[SeriesState]:
    """The overview: one state per series × horizon (series in order, horizons ascending), with the
    consensus of the symbol's timeframes (cached as :func:`list_series` is, unless ``now`` is given)."""
    if now is not None:
        return _series_states(engine, registry, now)
    return list(memo(engine, registry, "series_states", lambda: _series_states(engine, registry, None)))


def _series_states(engine: Engine, registry: Any, now: dt.datetime | None) -> list[SeriesState]:
    now = now or dt.datetime.now(dt.UTC)
    models = {m.name: m for m in registry.list_models()}
    newest = latest_forecasts(engine)
    drift_by = {}
    for row in drift_rows(engine):
        drift_by[(row.symbol, row.timeframe, row.horizon)] = row  # oldest bar first → last one wins
    runs_by: dict[tuple[str, str], list[TrainingRun]] = {}
    for run in runs_without_reports(engine):  # one scan for every series, newest first (as run_for_version)
        runs_by.setdefault((run.symbol, run.timeframe), []).append(run)
    states = []
    for series, horizon in ((s, h) for s in list_series(engine, registry) for h in s.horizons):
        state = SeriesState(series, horizon)
        model = models.get(state.name)
        if model is not None:
            state.champion, state.previous = model.champion, model.previous
            state.versions, state.latest = model.versions, model.latest
        state.run = pick_run(runs_by.get((series.symbol, series.timeframe), []), state.champion, horizon)
        if state.champion is None:
            state.notes.append("no champion")
        elif state.run is None:
            state.notes.append(f"no training run recorded for version {state.champion}")
        if state.run is not None:
            state.trained_at = state.run.run_date
            state.age_days = max(0, (now - state.run.run_date).days)
        state.forecast = newest.get((series.symbol, series.timeframe, horizon))
        state.drift = drift_by.get((series.symbol, series.timeframe, horizon))
        states.append(state)
    per_timeframe: dict[tuple[str, str], MlForecast] = {}  # latest bar, then shortest horizon
    for (symbol, timeframe, _), row in sorted(newest.items(), key=lambda kv: (kv[1].bar_ts, -kv[1].horizon)):
        per_timeframe[(symbol, timeframe)] = row
    by_symbol: dict[str, list[MlForecast]] = {}
    for (symbol, _), row in per_timeframe.items():
        by_symbol.setdefault(symbol, []).append(row)
    for state in states:
        voted = by_symbol.get(state.series.symbol, [])
        state.consensus = consensus(voted)
        state.consensus_basis = consensus_basis(voted) if voted else None
    return states


def consensus_basis(per_timeframe: list[MlForecast]) -> str:
    """How the symbol's vote was formed, from its newest forecast of each timeframe (one vote each)."""
    timeframes = sorted({f.timeframe for f in per_timeframe})
    if len(timeframes) == 1:
        return f"only {timeframes[0]} voted: no agreement across timeframes"
    return f"one vote per timeframe ({', '.join(timeframes)})"


def find_series(engine: Engine, registry: Any, symbol: str, timeframe: str) -> Series | None:
    return next((s for s in list_series(engine, registry) if (s.symbol, s.timeframe) == (symbol, timeframe)), None)


def forecast_rows(engine: Engine, *, symbol: str | None = None, timeframe: str | None = None,
                  horizon: int | None = None, start: dt.datetime | None = None, end: dt.datetime | None = None,
                  limit: int = 1000) -> list[MlForecast]:
    """Stored forecasts, oldest bar first, filtered by series, horizon and bar time (inclusive)."""
    query = _forecast_query(sa.select(MlForecast), symbol, timeframe, horizon, start, end, limit)
    with Session(engine, expire_on_commit=False) as session:
        rows = list(session.scalars(query))
        session.expunge_all()
    return rows[::-1]


def forecast_records(engine: Engine, columns: list[str], *, symbol: str | None = None,
                     timeframe: str | None = None, horizon: int | None = None, start: dt.datetime | None = None,
                     end: dt.datetime | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """:func:`forecast_rows` as plain dicts of ``columns`` (same rows, same order): no ORM
    identity map or instrumented objects — a third of ``/api/forecasts``' time at 1,000 rows."""
    query = _forecast_query(sa.select(*(getattr(MlForecast, c) for c in columns)), symbol, timeframe, horizon,
                            start, end, limit)
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(query).mappings()]
    return rows[::-1]


def _forecast_query(query: Any, symbol: str | None, timeframe: str | None, horizon: int | None,
                    start: dt.datetime | None, end: dt.datetime | None, limit: int) -> Any:
    query = query.where(MlForecast.shadow.is_(False))  # a shadow challenger's forecasts are never served
    for column, value in ((MlForecast.symbol, symbol), (MlForecast.timeframe, timeframe),
                          (MlForecast.horizon, horizon)):
        if value is not None:
            query = query.where(column == value)
    if start is not None:
        query = query.where(MlForecast.bar_ts >= start)
    if end is not None:
        query = query.where(MlForecast.bar_ts <= end)
    # The horizon breaks ties (one bar forecast at several horizons), so both readers agree on the order.
    return query.order_by(MlForecast.bar_ts.desc(), MlForecast.symbol, MlForecast.timeframe,
                          MlForecast.horizon).limit(limit)


@dataclass(frozen=True)
class LivePoint:
    bar_ts: dt.datetime
    accuracy: float
    baseline: float
    n: int


def live_accuracy(rows: list[MlForecast], window: int = 30, min_n: int = 10) -> list[LivePoint]:
    """Rolling accuracy of resolved forecasts beside a causal majority-class baseline.

    Why this baseline: at each point it predicts the most frequent realised direction among the
    forecasts resolved *before* it — what a trader without the model would have guessed — so the
    live line is judged the way the report judged the out-of-sample one. Points start once
    ``min_n`` forecasts are in the window. An abstention (direction ``NONE``) is neither a hit nor a
    miss: it only feeds the baseline's count of what happened.
    """
    resolved = [r for r in rows if r.realized_direction is not None]
    seen: Counter[str] = Counter()
    hits: list[tuple[bool, bool]] = []
    points = []
    for row in resolved:
        guess = seen.most_common(1)[0][0] if seen else "NEUTRAL"
        if row.direction == ABSTAIN:
            seen[row.realized_direction or ""] += 1
            continue
        hits.append((row.direction == row.realized_direction, guess == row.realized_direction))
        seen[row.realized_direction or ""] += 1
        recent = hits[-window:]
        if len(recent) < min_n:  # a rate over a handful of forecasts is noise, not a signal
            continue
        points.append(LivePoint(row.bar_ts, sum(h for h, _ in recent) / len(recent),
                                sum(b for _, b in recent) / len(recent), len(recent)))
    return points
