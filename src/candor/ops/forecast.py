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
* Loaded champions are cached per (name, version, manifest hash): a long-running scheduler then
  pays the hash check and unpickling once per version, not once per day.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from candor.registry.artifact import CandorModel, Forecast
from candor.config import Config
from candor.ops.consensus import Consensus, consensus
from candor.data.bars import TIMEFRAMES, INTRADAY, check_timeframe
from candor.errors import CandorError, ConfigError, DataError, ModelError, RegistryError

log = logging.getLogger(__name__)

BarsLoader = Callable[[str, str], pd.DataFrame]


@dataclass(frozen=True)
class Champion:
    """A loaded champion and what identifies it in ``ml_forecasts``."""

    model: CandorModel
    name: str
    version: str
    horizon: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SeriesForecast:
    """One forecast made by the job, with the model that made it and any flag."""

    forecast: Forecast
    model_name: str
    model_version: str
    flag: str | None = None


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
    consensus: dict[str, Consensus] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def flagged(self) -> list[SeriesForecast]:
        return [f for f in self.forecasts if f.flag]


# ---- champions --------------------------------------------------------------------------------
class ChampionCache:
    """Verified models by (name, version, manifest SHA-256); see the module docstring."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str, str], CandorModel] = {}

    def load(self, registry: Any, mv: Any) -> CandorModel:
        from candor.registry import loading

        key = (str(mv.name), str(mv.version), str(mv.tags.get("manifest_sha256", "")))
        if key not in self._models:
            self._models[key] = loading.load_verified(registry, mv)
        return self._models[key]


def _pages(search: Callable[..., Any], **kwargs: Any) -> list[Any]:
    items, token = [], None
    while True:
        page = search(max_results=1000, page_token=token, **kwargs)
        items += list(page)
        token = getattr(page, "token", None)
        if not token:
            return items


def champion_index(registry: Any) -> dict[str, Any]:
    """Registered name → champion ``ModelVersion`` for every candor model, in two paged queries.

    Why: looking each champion up separately costs two registry round trips per series (~20 ms on
    a local SQLite MLflow), which dominated a 500-series job.
    """
    from candor.registry import CHAMPION

    models = _pages(registry.client.search_registered_models, filter_string="name LIKE 'candor.%'")
    wanted = {(m.name, str(m.aliases[CHAMPION])) for m in models if CHAMPION in m.aliases}
    versions = _pages(registry.client.search_model_versions, filter_string="name LIKE 'candor.%'")
    return {mv.name: mv for mv in versions if (mv.name, str(mv.version)) in wanted}


def load_champion(registry: Any, symbol: str, timeframe: str, horizon: int, *, max_age_days: int,
                  now: datetime, cache: ChampionCache | None = None, index: dict[str, Any] | None = None) -> Champion:
    """The champion for one horizon, hash-verified and young enough; RegistryError otherwise.

    ``index`` (from :func:`champion_index`) saves the per-series registry lookups.
    """
    from candor.registry import CHAMPION, loading, model_name

    name = model_name(symbol, timeframe, horizon)
    hint = loading.train_hint(symbol, timeframe)
    if name != model_name(symbol, timeframe):
        hint = f"{hint.replace(' --promote', '')} --horizon {horizon} --promote"
    label = f"{symbol}/{timeframe}" + ("" if name == model_name(symbol, timeframe) else f" h{horizon}")
    try:
        mv = index[name] if index is not None and name in index else registry.version(name, CHAMPION)
    except RegistryError:
        raise RegistryError(f"no champion for {label} — run: {hint}") from None
    model = (cache or ChampionCache()).load(registry, mv)
    age_days = (now - model.created_at).days
    if age_days > max_age_days:
        raise RegistryError(f"champion of {label} is {age_days} days old (max {max_age_days}); retrain: {hint}")
    if model.label_spec.horizon != horizon:
        raise RegistryError(f"champion {name} v{mv.version} predicts {model.label_spec.horizon} bars ahead, "
                            f"not {horizon}; register horizon-{horizon} models as {model_name(symbol, timeframe, horizon)}.")
    return Champion(model, str(mv.name), str(mv.version), horizon, dict(mv.tags))


# ---- bars → forecast ----------------------------------------------------------------------------
def forecast_bars(model: CandorModel, bars: pd.DataFrame) -> Forecast:
    """The model's forecast for the newest bar of ``bars`` (the REST API uses this too).

    Refuses (ModelError) when the features changed since training (named by
    ``CandorModel.features``) or when the newest bar lacks complete features.
    """
    import sklearn

    if bars.empty:
        raise DataError("no bars to forecast from; load or import bars first.")
    with sklearn.config_context(skip_parameter_validation=True):  # parameters were validated at fit time
        forecast = model.predict(bars, last=1)[0]
    if forecast.bar_ts != bars.index[-1]:
        raise ModelError(f"the newest bar {bars.index[-1]} has incomplete features (last complete: "
                         f"{forecast.bar_ts}); supply at least {model.manifest.get('warmup')} clean bars.")
    return forecast


def expected_last_bar(bars: pd.DataFrame, now: datetime) -> pd.Timestamp | None:
    """Open time of the newest bar that should have closed by ``now``; None if the calendar is unknown.

    24/7 series: the bar before the one in progress. Exchange calendars: for ``d1`` the last session
    that closed; for intraday bars the last bar whose open is a bar length before the last close
    seen (so a series is stale only when a whole closed session or bar is missing).
    """
    from candor.data.gaps import CONTINUOUS, session_table

    calendar, timeframe = bars.attrs.get("calendar"), str(bars.attrs.get("timeframe"))
    step = TIMEFRAMES[check_timeframe(timeframe)]
    stamp = pd.Timestamp(now).tz_convert("UTC") if pd.Timestamp(now).tzinfo else pd.Timestamp(now, tz="UTC")
    if calendar is None or calendar == "none":
        return None
    if calendar == CONTINUOUS:
        origin = bars.index[-1]
        return origin + max((stamp - origin) // step - 1, 0) * step
    sessions = session_table(calendar, stamp - pd.Timedelta(days=14), stamp)
    closed = sessions[sessions["close"] <= stamp]
    if closed.empty:
        return None
    if timeframe in INTRADAY:
        return pd.Timestamp(closed["close"].iloc[-1]) - step
    day = pd.Timestamp(closed.index[-1]).tz_localize("UTC") if pd.Timestamp(closed.index[-1]).tzinfo is None \
        else pd.Timestamp(closed.index[-1])
    return day - pd.Timedelta(days=day.dayofweek) if timeframe == "w1" else day


def stale_reason(bars: pd.DataFrame, now: datetime) -> str | None:
    """A one-line reason when the newest bar is older than the calendar expects, else None."""
    expected = expected_last_bar(bars, now)
    if expected is None or bars.index[-1] >= expected:
        return None
    return (f"latest bar {bars.index[-1]} is older than expected ({expected} by the "
            f"{bars.attrs.get('calendar')} calendar at {pd.Timestamp(now).isoformat()}); import the missing "
            "bars, or set forecast.gap_policy = 'flag' to forecast anyway")


# ---- the job ------------------------------------------------------------------------------------
def universe(config: Config, engine: Any, symbols: Iterable[str] | None,
             timeframes: Iterable[str] | None) -> list[tuple[str, str]]:
    """(symbol, timeframe) pairs: explicit symbols × timeframes, else the configured universe,
    else every series stored in ``ohlc_bars`` — filtered by ``timeframes`` when given."""
    wanted_tf = tuple(timeframes or config.forecast.timeframes)
    for tf in wanted_tf:
        check_timeframe(tf)
    if symbols:
        if not wanted_tf:
            raise ConfigError("`timeframes` must name at least one timeframe when symbols are given "
                              "(e.g. --timeframes d1). Got none.")
        return [(s, tf) for s in symbols for tf in wanted_tf]
    if config.forecast.universe:
        pairs = [_parse_series(entry) for entry in config.forecast.universe]
    else:
        from candor.store import list_series

        pairs = [(info.symbol, info.timeframe) for info in list_series(engine)]
    return [(s, tf) for s, tf in pairs if not wanted_tf or tf in wanted_tf]


def _parse_series(entry: str) -> tuple[str, str]:
    symbol, sep, timeframe = entry.rpartition("/")
    if not sep or not symbol:
        raise ConfigError(f"`forecast.universe` entries must be SYMBOL/timeframe (e.g. SPX/d1). Got {entry!r}.")
    return symbol, check_timeframe(timeframe)


def store_loader(engine: Any, lookback: int) -> BarsLoader:
    """Bars from the operational store, newest ``lookback`` rows."""
    from candor.store import load_bars

    return lambda symbol, timeframe: load_bars(engine, symbol, timeframe).iloc[-lookback:]


def _forecast_one(config: Config, registry: Any, bars: pd.DataFrame, horizon: int, now: datetime,
                  cache: ChampionCache, index: dict[str, Any] | None) -> SeriesForecast:
    symbol, timeframe = str(bars.attrs["symbol"]), str(bars.attrs["timeframe"])
    champion = load_champion(registry, symbol, timeframe, horizon, max_age_days=config.forecast.max_model_age_days,
                             now=now, cache=cache, index=index)
    stale = stale_reason(bars, now) if config.forecast.gap_policy != "ignore" else None
    if stale and config.forecast.gap_policy == "refuse":
        raise DataError(stale)
    forecast = forecast_bars(champion.model, bars)
    return SeriesForecast(forecast, champion.name, champion.version, flag=stale)


def _series_forecasts(config: Config, registry: Any, symbol: str, timeframe: str, loader: BarsLoader,
                      now: datetime, cache: ChampionCache, report: ForecastReport,
                      index: dict[str, Any] | None = None) -> None:
    """Forecast every configured horizon of one series; record skips instead of raising."""
    try:
        bars = loader(symbol, timeframe)
    except CandorError as exc:
        report.skipped += [Skipped(symbol, timeframe, h, str(exc)) for h in config.forecast.horizons]
        return
    for horizon in config.forecast.horizons:
        try:
            report.forecasts.append(_forecast_one(config, registry, bars, horizon, now, cache, index))
        except CandorError as exc:
            report.skipped.append(Skipped(symbol, timeframe, horizon, str(exc)))


def _rows(report: ForecastReport, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for item in report.forecasts:
        f = item.forecast
        agreed = report.consensus.get(f.symbol)
        rows.append({
            "symbol": f.symbol, "timeframe": f.timeframe, "horizon": f.horizon, "bar_ts": f.bar_ts,
            "generated_at": now, "direction": f.direction, "probabilities": f.probabilities,
            "confidence": f.confidence, "model_name": item.model_name, "model_version": item.model_version,
            "consensus_direction": agreed.direction if agreed else None,
            "consensus_agreement": agreed.agreement if agreed else None,
        })
    return rows


def run_forecasts(
    config: Config,
    *,
    engine: Any,
    registry: Any,
    symbols: Iterable[str] | None = None,
    timeframes: Iterable[str] | None = None,
    bars_loader: BarsLoader | None = None,
    now: datetime | None = None,
    cache: ChampionCache | None = None,
) -> ForecastReport:
    """Forecast every series × configured horizon with a champion and store the rows.

    ``bars_loader(symbol, timeframe)`` supplies bars (default: the store's ``ohlc_bars``). Rows are
    written in one transaction; a bar already forecast keeps its row (``written`` counts new rows).
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    loader = bars_loader or store_loader(engine, config.forecast.lookback_bars)
    cache = cache or ChampionCache()
    report = ForecastReport(written=0)
    pairs = universe(config, engine, symbols, timeframes)
    index = champion_index(registry) if len(pairs) > 10 else None
    for symbol, timeframe in pairs:
        _series_forecasts(config, registry, symbol, timeframe, loader, now, cache, report, index)
    by_symbol: dict[str, list[Forecast]] = {}
    for item in report.forecasts:
        by_symbol.setdefault(item.forecast.symbol, []).append(item.forecast)
    report.consensus = {s: consensus(fs, config.forecast.consensus_weights) for s, fs in by_symbol.items()}
    report.written = _write(engine, _rows(report, now))
    report.seconds = time.perf_counter() - started
    _log(report)
    return report


def _write(engine: Any, rows: list[dict[str, Any]]) -> int:
    from candor.store import upsert_forecasts

    return upsert_forecasts(engine, rows) if rows else 0


def _log(report: ForecastReport) -> None:
    for skip in report.skipped:
        log.warning("skipped %s/%s h%d: %s", skip.symbol, skip.timeframe, skip.horizon, skip.reason)
    for item in report.flagged:
        log.warning("flagged %s/%s: %s", item.forecast.symbol, item.forecast.timeframe, item.flag)
    log.info("forecast job: %d forecasts, %d new rows, %d skipped", len(report.forecasts), report.written,
             len(report.skipped), extra={"metrics": {"forecasts": len(report.forecasts), "written": report.written,
                                                      "skipped": len(report.skipped),
                                                      "seconds": round(report.seconds, 3)}})

