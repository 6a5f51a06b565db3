"""The forecast job: champions × latest bars → ``ml_forecasts`` rows, idempotently.

Why it looks like this:

* One model per (symbol, timeframe, horizon). The registered name is
  :func:`candor.registry.common.model_name` with the horizon (``candor.SPX.d1`` for the default
  horizon 5, ``candor.SPX.d1.h20`` otherwise), so existing single-horizon registries keep working.
* :func:`forecast_bars` is the one code path from bars to a forecast; the REST API calls it too.
  It refuses to forecast anything but the newest bar (``CandorModel.predict`` alone would quietly
  fall back to an older bar whose features are complete).
* Per-series problems (no champion, a too-old champion, a stale last bar, a changed feature list)
  are reported and skipped: one broken series must not stop the other 499. Database problems are
  not per-series: every row is written in one transaction at the end, so a dead database leaves
  no partial batch.
* Each forecast carries a conformal prediction set and abstains (direction ``NONE``, reason
  stored) when the set is not one class or the champion has no significant edge
  (:mod:`candor.ops.sets`); abstentions cast no consensus vote.
* A series whose model has a ``shadow`` version (``candor registry shadow``) gets that version's
  forecast of the same bar too, stored with ``shadow`` true: never served, no consensus vote; the
  drift job compares the two on the same resolved rows.
* Champions come from the registry's one loader (:meth:`candor.registry.Registry.champion`),
  cached per (name, version, manifest hash): a long-running scheduler pays the hash check and
  unpickling once per version, and the web API applies the same age rule.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from candor.config import Config
from candor.data.bars import INTRADAY, TIMEFRAMES, check_timeframe
from candor.data.gaps import CONTINUOUS, FX, fx_last_closed, session_table
from candor.errors import CandorError, DataError, ModelError
from candor.features import FeatureSet, compute_features, warmup_bars
from candor.ops.collector import collector_paused
from candor.ops.consensus import Consensus, consensus
from candor.ops.context import BarsLoader, served_series
from candor.ops.sets import Misses, SetDecision, decide, set_misses
from candor.records.report import TrainingReport
from candor.registry.artifact import CandorModel, Forecast
from candor.services import Services
from candor.store import load_bars, load_tails, upsert_forecasts
from candor.store.forecasts import ABSTAIN

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesForecast:
    """One forecast made by the job, with the model that made it and any flag."""

    forecast: Forecast
    model_name: str
    model_version: str
    flag: str | None = None
    sets: SetDecision = SetDecision()  # the conformal set and any abstention (candor.ops.sets)
    report: TrainingReport | None = field(default=None, repr=False, compare=False)  # the champion's
    shadow: bool = False  # made by the series' shadow version: stored flagged, never served or voted

    @property
    def direction(self) -> str:
        """What is served and stored: the model's direction, or ``NONE`` when the forecast abstains."""
        return self.sets.direction(self.forecast.direction)


@dataclass(frozen=True)
class Skipped:
    """A series × horizon the job did not forecast, and why (one line with the fix)."""

    symbol: str
    timeframe: str
    horizon: int
    reason: str


@dataclass
class ForecastReport:
    """What one run of the job did: rows written, forecasts, skips and per-symbol consensus."""

    written: int
    forecasts: list[SeriesForecast] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: The shadow versions' forecasts of the same bars (stored with ``shadow`` true, never served).
    shadows: list[SeriesForecast] = field(default_factory=list)
    consensus: dict[str, Consensus] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def flagged(self) -> list[SeriesForecast]:
        return [f for f in self.forecasts if f.flag]


# ---- bars → forecast ----------------------------------------------------------------------------
def forecast_bars(model: CandorModel, bars: pd.DataFrame, computed: pd.DataFrame | None = None) -> Forecast:
    """The model's forecast for the newest bar of ``bars`` (the REST API uses this too).

    ``computed``: ``compute_features(bars, model.feature_set)`` when the caller already has it.
    Refuses (ModelError) when the features changed since training (named by
    ``CandorModel.features``) or when the newest bar lacks complete features.
    """
    if bars.empty:
        raise DataError("no bars to forecast from; load or import bars first.")
    # Parameters were validated at fit time, and the row is finite (``_newest_complete`` picks
    # rows without NaN; features are finite after warm-up by construction).
    import sklearn  # lazy: the model loaded it already; the API and the CLI start without it

    with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
        forecast = model.predict(bars, last=1, computed=computed)[0]
    if forecast.bar_ts != bars.index[-1]:
        raise ModelError(f"the newest bar {bars.index[-1]} has incomplete features (last complete: "
                         f"{forecast.bar_ts}); supply at least {model.manifest.warmup} clean bars.")
    return forecast


def expected_last_bar(bars: pd.DataFrame, now: datetime) -> pd.Timestamp | None:
    """Open time of the newest bar that should have closed by ``now``; None if the calendar is unknown.

    24/7 series: the bar before the one in progress. Exchange calendars: for ``d1`` the last session
    that closed; for intraday bars the last bar whose open is a bar length before the last close
    seen (so a series is stale only when a whole closed session or bar is missing).
    """
    calendar, timeframe = bars.attrs.get("calendar"), str(bars.attrs.get("timeframe"))
    step = TIMEFRAMES[check_timeframe(timeframe)]
    stamp = pd.Timestamp(now).tz_convert("UTC") if pd.Timestamp(now).tzinfo else pd.Timestamp(now, tz="UTC")
    if calendar is None or calendar == "none":
        return None
    if calendar == CONTINUOUS:
        origin = bars.index[-1]
        return origin + max((stamp - origin) // step - 1, 0) * step
    if calendar == FX:
        return fx_last_closed(timeframe, stamp)
    sessions = session_table(calendar, stamp - pd.Timedelta(days=14), stamp)
    closed = sessions[sessions["close"] <= stamp]
    if closed.empty:
        return None
    if timeframe in INTRADAY:
        return pd.Timestamp(closed["close"].iloc[-1]) - step
    day = pd.Timestamp(closed.index[-1]).tz_localize("UTC") if pd.Timestamp(closed.index[-1]).tzinfo is None \
        else pd.Timestamp(closed.index[-1])
    return day - pd.Timedelta(days=day.dayofweek) if timeframe == "w1" else day


def stale_reason(bars: pd.DataFrame, now: datetime, policy: str = "refuse") -> str | None:
    """A one-line reason when the newest bar is older than the calendar expects, else None; its
    advice fits ``policy`` (``forecast.gap_policy``): under ``flag`` the forecast was made anyway,
    so it never advises setting what is already set."""
    expected = expected_last_bar(bars, now)
    if expected is None or bars.index[-1] >= expected:
        return None
    advice = ("forecast anyway (forecast.gap_policy = 'flag'); import the missing bars to forecast the newest one"
              if policy == "flag" else
              "import the missing bars, or set forecast.gap_policy = 'flag' to forecast anyway")
    return (f"latest bar {bars.index[-1]} is older than expected ({expected} by the "
            f"{bars.attrs.get('calendar')} calendar at {pd.Timestamp(now).isoformat()}); {advice}")


# ---- the job ------------------------------------------------------------------------------------
#: Rows past the features' warm-up in a tail: the newest complete row and a few before it.
TAIL_MARGIN = 50

def store_loader(engine: Engine, lookback: int, series: Iterable[tuple[str, str]] = ()) -> BarsLoader:
    """Bars from the operational store: only the newest ``lookback`` rows are read (the tail the
    features are computed on), not the whole history. The tails of ``series`` are read up front
    in a few statements (:func:`candor.store.load_tails`, half the time of one read per series);
    any other series, and a series with no stored bars (for its error), is read on its own."""
    tails = load_tails(engine, series, lookback) if series else {}

    def load(symbol: str, timeframe: str) -> pd.DataFrame:
        found = tails.pop((symbol, timeframe), None)  # handed out once: the job keeps no second copy
        return found if found is not None else load_bars(engine, symbol, timeframe, last=lookback)

    return load


def tail_length(config: Config, pairs: Iterable[tuple[str, str]]) -> int:
    """Bars read per series: ``forecast.lookback_bars``, or more where the configured features'
    warm-up needs it (an hourly warm-up on a 24/7 calendar is 695 bars, over the default 600),
    so the newest rows have every feature instead of a "supply more bars" skip."""
    need = max((warmup_bars(config.features, tf) + TAIL_MARGIN for _, tf in pairs), default=0)
    return max(config.forecast.lookback_bars, need)


class SeriesFeatures:
    """``compute_features`` of one series' tail, once per feature set: the horizons' champions of
    a series usually share a feature set, so the second and third horizon reuse the first's."""

    def __init__(self, bars: pd.DataFrame) -> None:
        self.bars = bars
        self._by_set: dict[FeatureSet, pd.DataFrame] = {}

    def of(self, model: CandorModel) -> pd.DataFrame:
        found = self._by_set.get(model.feature_set)
        if found is None:
            found = self._by_set[model.feature_set] = compute_features(self.bars, model.feature_set)
        return found


def _forecast_one(services: Services, tail: SeriesFeatures, horizon: int, now: datetime,
                  index: dict[str, Any] | None) -> SeriesForecast:
    bars = tail.bars
    symbol, timeframe = str(bars.attrs["symbol"]), str(bars.attrs["timeframe"])
    champion = services.registry.champion(symbol, timeframe, horizon, now=now, index=index)
    policy = services.config.forecast.gap_policy
    stale = stale_reason(bars, now, policy) if policy != "ignore" else None
    if stale and policy == "refuse":
        raise DataError(stale)
    forecast = forecast_bars(champion.model, bars, tail.of(champion.model))
    return SeriesForecast(forecast, champion.name, champion.version, flag=stale, report=champion.model.manifest.report)


def _shadow_one(services: Services, tail: SeriesFeatures, made: SeriesForecast, version: str) -> SeriesForecast:
    """The shadow version's forecast of the bar the champion just forecast (same tail, same flag)."""
    model = services.registry.load_verified(services.registry.version(made.model_name, version))
    forecast = forecast_bars(model, tail.bars, tail.of(model))
    return SeriesForecast(forecast, made.model_name, version, flag=made.flag, report=model.manifest.report,
                          shadow=True)


def with_sets(item: SeriesForecast, settings: Any, misses: Misses) -> SeriesForecast:
    """``item`` with its conformal set and abstention decided (``settings``: ``config.forecast``)."""
    f = item.forecast
    key = (item.model_name, str(item.model_version), int(f.horizon))
    return replace(item, sets=decide(f.probabilities, item.report or TrainingReport(), settings, misses.get(key, ())))


def _decide_all(services: Services, report: ForecastReport) -> None:
    """Sets for every forecast of the run, from one query of the champions' resolved forecasts."""
    misses = set_misses(services.store.engine, {item.model_name for item in report.forecasts})
    report.forecasts = [with_sets(item, services.config.forecast, misses) for item in report.forecasts]
    report.shadows = [with_sets(item, services.config.forecast, misses) for item in report.shadows]


def _series_forecasts(services: Services, symbol: str, timeframe: str, loader: BarsLoader, now: datetime,
                      report: ForecastReport, index: dict[str, Any] | None = None,
                      shadows: dict[str, str] | None = None) -> None:
    """Forecast every configured horizon of one series; record skips instead of raising."""
    horizons = services.config.forecast.horizons
    try:
        bars = loader(symbol, timeframe)
    except CandorError as exc:
        report.skipped += [Skipped(symbol, timeframe, h, str(exc)) for h in horizons]
        return
    tail = SeriesFeatures(bars)
    for horizon in horizons:
        try:
            made = _forecast_one(services, tail, horizon, now, index)
        except CandorError as exc:
            report.skipped.append(Skipped(symbol, timeframe, horizon, str(exc)))
            continue
        report.forecasts.append(made)
        shadow = (shadows or {}).get(made.model_name)
        if shadow is not None and shadow != made.model_version:
            try:  # a shadow that cannot forecast never costs the champion's row
                report.shadows.append(_shadow_one(services, tail, made, shadow))
            except CandorError as exc:
                log.warning("shadow %s v%s skipped: %s", made.model_name, shadow, exc)


def _rows(report: ForecastReport, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for item in (*report.forecasts, *report.shadows):
        f = item.forecast
        agreed = None if item.shadow else report.consensus.get(f.symbol)
        rows.append({
            "symbol": f.symbol, "timeframe": f.timeframe, "horizon": f.horizon, "bar_ts": f.bar_ts,
            "generated_at": now, "direction": item.direction, "probabilities": f.probabilities,
            "confidence": f.confidence, "model_name": item.model_name, "model_version": item.model_version,
            "consensus_direction": agreed.direction if agreed else None,
            "consensus_agreement": agreed.agreement if agreed else None,
            "prediction_set": None if item.sets.prediction_set is None else list(item.sets.prediction_set),
            "set_alpha": item.sets.alpha, "abstain_reason": item.sets.abstain_reason, "shadow": item.shadow,
        })
    return rows


def run_forecasts(
    services: Services,
    *,
    symbols: Iterable[str] | None = None,
    timeframes: Iterable[str] | None = None,
    bars_loader: BarsLoader | None = None,
    now: datetime | None = None,
) -> ForecastReport:
    """Forecast every series × configured horizon with a champion and store the rows.

    ``bars_loader(symbol, timeframe)`` supplies bars (default: the store's ``ohlc_bars``). Rows are
    written in one transaction; a bar already forecast keeps its row (``written`` counts new rows).
    Champions come from the registry's one loader (hash-verified, cached, age-checked).
    """
    with collector_paused():  # 0.7 s of a cold 500-symbol job was the collector walking the heap
        return _run_forecasts(services, symbols, timeframes, bars_loader, now)


def _run_forecasts(services: Services, symbols: Iterable[str] | None, timeframes: Iterable[str] | None,
                   bars_loader: BarsLoader | None, now: datetime | None) -> ForecastReport:
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    config, engine = services.config, services.store.engine
    report = ForecastReport(written=0)
    pairs = served_series(services, symbols, timeframes)
    loader = bars_loader or store_loader(engine, tail_length(config, pairs), pairs)
    # One batched champion lookup for the whole universe (one paged registry query, two after a
    # rollback), not two round trips per series; a single series keeps the direct lookup.
    index = services.registry.champion_index() if len(pairs) > 1 else None
    shadows = services.registry.shadow_index() if pairs else {}  # one more paged query, not one per series
    for symbol, timeframe in pairs:
        _series_forecasts(services, symbol, timeframe, loader, now, report, index, shadows)
    _decide_all(services, report)
    by_symbol: dict[str, list[Forecast]] = {}
    for item in report.forecasts:
        if item.direction != ABSTAIN:  # an abstention casts no vote
            by_symbol.setdefault(item.forecast.symbol, []).append(item.forecast)
    report.consensus = {s: consensus(fs, config.forecast.consensus_weights) for s, fs in by_symbol.items()}
    report.written = _write(engine, _rows(report, now))
    report.seconds = time.perf_counter() - started
    _log(report)
    return report


def _write(engine: Engine, rows: list[dict[str, Any]]) -> int:
    return upsert_forecasts(engine, rows) if rows else 0


def _log(report: ForecastReport) -> None:
    for skip in report.skipped:
        log.warning("skipped %s/%s h%d: %s", skip.symbol, skip.timeframe, skip.horizon, skip.reason)
    for item in report.flagged:
        log.warning("flagged %s/%s: %s", item.forecast.symbol, item.forecast.timeframe, item.flag)
    for note in sorted({item.sets.note for item in report.forecasts if item.sets.note}):
        log.warning("%s: %s", ", ".join(sorted({i.model_name for i in report.forecasts if i.sets.note == note})), note)
    abstained = sum(1 for item in report.forecasts if item.direction == ABSTAIN)
    log.info("forecast job: %d forecasts (%d abstained), %d new rows, %d skipped", len(report.forecasts), abstained,
             report.written, len(report.skipped),
             extra={"metrics": {"forecasts": len(report.forecasts), "written": report.written,
                                "abstained": abstained, "skipped": len(report.skipped),
                                "seconds": round(report.seconds, 3)}})

