"""Feature groups → columns: ``compute_features`` and summaries of a :class:`FeatureSet` (the spec,
with its rules, lives in :mod:`candor.records.specs`).

The column list is a pure function of the feature set, the timeframe and the calendar, so
names and warm-ups are known before any data is touched (``warmup_bars`` is what validation
uses as the minimum row count); ``compute_features`` then fills one preallocated column-major
array, which keeps peak memory near the size of the result.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from candor.data.bars import INTRADAY, check_timeframe, timeframe_of
from candor.data.gaps import DAY_NS
from candor.errors import ConfigError
from candor.features import groups
from candor.features.context import context_specs, resolve_context
from candor.features.indicators import Inputs, Spec
from candor.records.specs import FEATURE_GROUPS, FeatureSet

#: Every feature group, in column order (defined with :class:`FeatureSet` in the records leaf).
ALL_GROUPS: tuple[str, ...] = FEATURE_GROUPS

#: Exchange calendar code → the time zone its sessions are defined in (hour-of-day features).
CALENDAR_TZ = {
    "XNYS": "America/New_York", "XNAS": "America/New_York", "XASE": "America/New_York",
    "XLON": "Europe/London", "XETR": "Europe/Berlin", "XPAR": "Europe/Paris",
    "XTKS": "Asia/Tokyo", "XHKG": "Asia/Hong_Kong", "XTSE": "America/Toronto",
}


@dataclass(frozen=True)
class FeatureInfo:
    """Summary of one computed column: its group, warm-up in bars and share of NaN rows."""

    name: str
    group: str
    warmup: int
    nan_share: float


# --------------------------------------------------------------------------- time features
def _local_ns(x: Inputs) -> np.ndarray:
    """Bar open times as wall-clock nanoseconds in the calendar's time zone (UTC if unknown)."""
    index = pd.DatetimeIndex(x.bars.index)
    tz = CALENDAR_TZ.get(str(x.bars.attrs.get("calendar")))
    if tz is not None:
        index = index.tz_convert(tz)
    if index.tz is not None and str(index.tz) != "UTC":  # UTC stamps already are UTC wall time
        index = index.tz_localize(None)
    return index.as_unit("ns").asi8


MINUTE_NS = 60_000_000_000


def _bucket(x: Inputs, unit: str) -> tuple[np.ndarray, int]:
    """Integer position in the cycle and the cycle length: minute of day (of 1440), day of week
    (Mon=0, of 7) or month (Jan=0, of 12). Intraday uses the calendar's local clock; d1/w1 bars
    are labelled at their session date, so their UTC date is the trading date."""
    if unit == "month":
        return pd.DatetimeIndex(x.bars.index).month.to_numpy() - 1, 12
    daily = x.bars.attrs.get("timeframe") in ("d1", "w1")
    ns = pd.DatetimeIndex(x.bars.index).as_unit("ns").asi8 if daily else x.memo("local_ns", lambda: _local_ns(x))
    # Remainders as ``a - a // k * k``: numpy divides int64 by a scalar fast, but ``%`` is slow.
    day = ns // DAY_NS
    if unit == "hour":
        return (ns - day * DAY_NS) // MINUTE_NS, 1440
    day += 3  # 1970-01-01 was a Thursday
    return day - day // 7 * 7, 7


def _cyclic(x: Inputs, unit: str, fn: str) -> np.ndarray:
    """sin/cos of the position in the cycle, by table lookup (a handful of distinct values)."""
    pos, size = x.memo(("bucket", unit), lambda: _bucket(x, unit))
    table = (np.sin if fn == "sin" else np.cos)(2.0 * np.pi * np.arange(size) / size)
    return np.take(table, pos, out=x.dest)


def time_specs(timeframe: str) -> list[Spec]:
    """Cyclic calendar features, only where the timeframe gives them meaning."""
    units = []
    if timeframe in INTRADAY:
        units.append("hour")
    if timeframe in INTRADAY or timeframe == "d1":
        units.append("dow")
    if timeframe in ("d1", "w1"):
        units.append("month")
    return [Spec(f"{u}_{fn}", "time", 0, lambda x, u=u, fn=fn: _cyclic(x, u, fn))
            for u in units for fn in ("sin", "cos")]


# --------------------------------------------------------------------------- catalog
def feature_specs(feature_set: FeatureSet, timeframe: str, calendar: str | None = None) -> list[Spec]:
    """Every column ``compute_features`` returns for bars of ``timeframe``, in order."""
    check_timeframe(timeframe)
    s, m, l = feature_set.short, feature_set.medium, feature_set.long
    builders = {
        "returns": groups.returns_specs, "volume": groups.volume_specs,
        "momentum": groups.momentum_specs, "volatility": groups.volatility_specs,
        "trend": groups.trend_specs,
    }
    specs: list[Spec] = []
    for group in ALL_GROUPS:
        if group not in feature_set.groups:
            continue
        if group in builders:
            specs += builders[group](s, m, l)
        elif group == "time":
            specs += time_specs(timeframe)
        else:
            tfs = resolve_context(feature_set.context_timeframes, timeframe)
            specs += context_specs(s, tfs, timeframe, calendar)
    return specs


def compute_features(bars: pd.DataFrame, feature_set: FeatureSet = FeatureSet(), *,
                     mask_warmup: bool = True) -> pd.DataFrame:
    """Scale-free, strictly causal features of ``bars``: same index, one float64 column each.

    Row t uses bars at or before t only; the first ``warmup`` rows of a column may be NaN,
    after that every value is finite. A recursion's rows between TA-Lib's first output and its
    warm-up are NaN too (its seed has not settled: the value would depend on where ``bars``
    start); ``mask_warmup=False`` keeps them, to measure that convergence.
    """
    timeframe, calendar = timeframe_of(bars), bars.attrs.get("calendar")
    specs = feature_specs(feature_set, timeframe, calendar)
    if len(bars) == 0:
        frame = pd.DataFrame(np.empty((0, len(specs))), index=bars.index, columns=[s.name for s in specs])
        frame.attrs.update(bars.attrs)
        return frame
    release = _release_plan(feature_set, timeframe, calendar, bars)
    x = Inputs(bars)
    out = np.empty((x.n, len(specs)), dtype="float64", order="F")
    for j, spec in enumerate(specs):
        column = out[:, j]
        x.dest = column  # a column's last step writes here, saving a temporary and a copy
        values = spec.fn(x)
        if values is not column:
            column[:] = values
        if mask_warmup and spec.first is not None and spec.warmup > spec.first:
            column[:spec.warmup] = np.nan
        x.forget(release[j])
    x.dest = None
    frame = pd.DataFrame(out, index=bars.index, columns=[s.name for s in specs], copy=False)
    frame.attrs.update(bars.attrs)
    return frame


_PLANS: dict[tuple[FeatureSet, str, str | None], list[tuple[Hashable, ...]]] = {}
_PROBE_ROWS = 64


def _release_plan(feature_set: FeatureSet, timeframe: str, calendar: str | None,
                  bars: pd.DataFrame) -> list[tuple[Hashable, ...]]:
    """Per column, the shared series whose last user it is, so they are freed right after it.

    Which series a column shares depends only on the feature set, the timeframe and the
    calendar, never on the values; one run over the first few bars records it, once per process.
    Freeing early keeps the peak near the result's size and lets the allocator hand the same
    (already mapped) memory to the next indicator instead of fresh pages.
    """
    key = (feature_set, timeframe, calendar)
    if key not in _PLANS:
        specs = feature_specs(feature_set, timeframe, calendar)
        probe = Inputs(bars.iloc[:_PROBE_ROWS])
        last: dict[Hashable, int] = {}
        with np.errstate(all="ignore"):
            for j, spec in enumerate(specs):
                probe.touched = []
                spec.fn(probe)
                last.update(dict.fromkeys(probe.touched, j))
        plan: list[list[Hashable]] = [[] for _ in specs]
        for shared, j in last.items():
            plan[j].append(shared)
        _PLANS[key] = [tuple(keys) for keys in plan]
    return _PLANS[key]


def warmup_bars(feature_set: FeatureSet, timeframe: str, calendar: str | None = None) -> int:
    """The longest warm-up of any column, in bars of ``timeframe``: the first row every column has
    a value within :data:`~candor.features.indicators.TOLERANCE` of the full-history one.

    Context columns count their coarse warm-up in fine bars (an exchange calendar has 6.5-hour
    sessions; ``None`` or ``"24/7"`` assumes round-the-clock bars, the larger, safer count).
    """
    return max((s.warmup for s in feature_specs(feature_set, timeframe, calendar)), default=0)


def warmup_by_group(feature_set: FeatureSet, timeframe: str, calendar: str | None = None) -> dict[str, int]:
    """Each computed group's longest warm-up in bars of ``timeframe``, longest first (what a
    too-short series is told: which group needs the history, and what the others need)."""
    found: dict[str, int] = {}
    for spec in feature_specs(feature_set, timeframe, calendar):
        found[spec.group] = max(found.get(spec.group, 0), spec.warmup)
    return dict(sorted(found.items(), key=lambda item: -item[1]))


def describe_features(bars: pd.DataFrame, feature_set: FeatureSet = FeatureSet()) -> list[FeatureInfo]:
    """Name, group, warm-up and NaN share of every column ``compute_features`` gives ``bars``."""
    specs = feature_specs(feature_set, timeframe_of(bars), bars.attrs.get("calendar"))
    values = compute_features(bars, feature_set).to_numpy()
    shares = np.isnan(values).mean(axis=0) if len(values) else np.ones(len(specs))
    return [FeatureInfo(s.name, s.group, s.warmup, float(sh)) for s, sh in zip(specs, shares)]


def parse_feature_set(groups: str | None = None, periods: str | None = None) -> FeatureSet:
    """A FeatureSet from comma lists as typed on a command line (``"returns,momentum"``, ``"14,50,200"``)."""
    kwargs: dict[str, object] = {}
    if groups:
        kwargs["groups"] = tuple(g.strip() for g in groups.split(",") if g.strip())
    if periods:
        parts = [p.strip() for p in periods.split(",")]
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise ConfigError(
                f"`periods` must be three integers short,medium,long such as 14,50,200. Got {periods!r}."
            )
        kwargs.update(short=int(parts[0]), medium=int(parts[1]), long=int(parts[2]))
    return FeatureSet(**kwargs)  # type: ignore[arg-type]
