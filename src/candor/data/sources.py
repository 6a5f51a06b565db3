"""Loading bars from CSV, Parquet, a SQL table or an embedded dataset — one entry: :func:`open_bars`.

Files from the wild name their columns in many ways, so column names are matched
case-insensitively (spaces, ``_`` and ``-`` ignored) against small alias lists. Naive timestamps
are read in ``tz`` (default UTC) and converted to UTC; aware ones keep their offset. Loaders never
sort, de-duplicate or drop rows: what is wrong with a file is reported by
:func:`candor.data.validate.validate_bars`, not hidden.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from candor.data.bars import INTRADAY, OHLCV, TIMEFRAMES, check_timeframe, make_bars
from candor.data.datasets import load_dataset
from candor.data.gaps import CONTINUOUS, DAY_NS, FX, check_calendar, fx_bar_open, ns
from candor.data.resample import resample
from candor.data.validate import validate_bars
from candor.errors import ConfigError, DataError

if TYPE_CHECKING:  # SQLAlchemy loads in load_sql: reading a file (candor validate) starts without it
    import sqlalchemy as sa

log = logging.getLogger(__name__)

_TS_ALIASES = ("ts", "timestamp", "datetime", "date", "time", "opentime", "timeutc", "datetimeutc")
ALIASES: dict[str, tuple[str, ...]] = {
    "open": ("open", "o", "openprice"),
    "high": ("high", "h", "highprice"),
    "low": ("low", "l", "lowprice"),
    "close": ("close", "c", "closeprice", "last"),
    "volume": ("volume", "vol", "v", "tickvolume"),
    "adj_close": ("adjclose", "adjustedclose", "adjclosing"),
}
# A UTC offset after a clock time ("…09:30:00-04:00", "…14:30Z"); "01-02-2024" is not one.
_OFFSET = re.compile(r"\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:Z|UTC|[+-]\d\d:?\d\d)$")


def _key(name: object) -> str:
    return re.sub(r"[\s_\-.]", "", str(name)).lower()


def _find(raw: pd.DataFrame, aliases: tuple[str, ...]) -> str | None:
    keys = {_key(c): c for c in reversed(list(raw.columns))}
    return next((keys[a] for a in aliases if a in keys), None)


def _unmangled(column: object, columns: pd.Index) -> str:
    """A column's name as written: pandas renames a repeated header ``Close`` to ``Close.1``."""
    match = re.fullmatch(r"(.+)\.\d+", str(column))
    return match.group(1) if match and match.group(1) in set(map(str, columns)) else str(column)


def _single(raw: pd.DataFrame, found: str, what: str, origin: str) -> str:
    """``found`` unless another column has the same name (any spelling): which one holds ``what``
    would be a silent choice, so two are refused."""
    same = [str(c) for c in raw.columns if _key(_unmangled(c, raw.columns)) == _key(_unmangled(found, raw.columns))]
    if len(same) > 1:
        raise DataError(f"{origin}: duplicate column: {len(same)} columns hold '{what}' ({', '.join(same)}); "
                        "remove or rename all but one.")
    return found


def _missing(origin: str, what: str, aliases: tuple[str, ...], raw: pd.DataFrame) -> DataError:
    found = ", ".join(str(c) for c in raw.columns) or "none"
    return DataError(f"{origin}: missing column '{what}' (accepted names: {', '.join(aliases)}); "
                     f"found columns: {found}.")


def _parse_numbers(raw: pd.Series, name: str, origin: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(raw):  # to_numeric would turn it into 0/1 without a word
        raise DataError(f"{origin}: column '{name}' holds bool values, not numbers; fix the file's column types.")
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise DataError(f"{origin}: column '{name}' has a non-numeric value {raw.iloc[row]!r} "
                        f"at data row {row + 1}.")
    return values.to_numpy(dtype="float64")


_UNITS = {"s": ("seconds", 1e9), "ms": ("milliseconds", 1e6), "us": ("microseconds", 1e3), "ns": ("nanoseconds", 1.0)}
#: What a timestamp can hold: nanoseconds since 1970 in int64 (the years 1677 to 2262).
_NS_LIMIT = float(2**63)


def _epoch(values: pd.Series) -> pd.DatetimeIndex:
    """Integer timestamps: seconds, milliseconds, micro- or nanoseconds, told apart by size.

    A value a timestamp cannot hold is refused by row, never wrapped around: a file of
    nanosecond epochs past 2262 read as unsigned 64-bit would otherwise land in 1677."""
    numbers = values.to_numpy(dtype="float64")
    finite = np.abs(numbers[np.isfinite(numbers)])
    top = float(finite.max()) if len(finite) else 0.0
    unit = "s" if top < 1e11 else "ms" if top < 1e14 else "us" if top < 1e17 else "ns"
    name, scale = _UNITS[unit]
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.abs(numbers * scale) >= _NS_LIMIT  # inf too; NaN (an empty cell) is reported as unparsable
    if out.any():
        row = int(np.argmax(out))
        raise DataError(f"epoch time {str(values.iloc[row])!r} at data row {row + 1} is out of range: read as {name} "
                        f"since 1970 it falls outside the years 1677-2262 a timestamp can hold ({int(out.sum())} "
                        "such value(s)); write seconds, milliseconds or ISO 8601 dates")
    exact = values.astype("int64") if pd.api.types.is_unsigned_integer_dtype(values) else values  # in range now
    return pd.DatetimeIndex(pd.to_datetime(exact, unit=unit, utc=True))


#: A number written as text (too large for the CSV reader's int64/uint64), e.g. an overflowing epoch.
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?$")
#: A time zone abbreviation after a clock time ("16:00 EST"): pandas drops it with a warning.
_ZONE_NAME = re.compile(r"\d:\d\d(?::\d\d(?:\.\d+)?)?\s*(?:[AaPp]\.?[Mm]\.?\s*)?([A-Za-z]{2,5})$")


def _zone_names(text: pd.Series) -> None:
    """Refuse time zone abbreviations: pandas would drop them (a FutureWarning) and read the clock as
    UTC or ``tz``; they are ambiguous anyway (CST is Chicago or Shanghai)."""
    names = text.str.extract(_ZONE_NAME)[0]
    bad = names.notna() & ~names.str.upper().isin(["UTC", "GMT"])
    if bad.any():
        row = int(np.argmax(bad.to_numpy(dtype=bool)))
        raise DataError(f"{text.iloc[row]!r} at data row {row + 1} ends in the time zone abbreviation "
                        f"{names.iloc[row]!r}, which is not a UTC offset (abbreviations are ambiguous, and it would "
                        "be dropped); write an offset such as -05:00, or remove it and pass --tz, "
                        "e.g. America/New_York")


def _to_datetimes(raw: pd.Series, tz: str | None) -> pd.DatetimeIndex:
    if isinstance(raw.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(raw):
        parsed = pd.DatetimeIndex(raw)
    elif pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        return _epoch(raw)
    else:
        text = raw.astype("string").str.strip()
        if len(text) and text.str.fullmatch(_NUMBER).fillna(False).all():
            return _epoch(text.astype("float64"))
        _zone_names(text)
        dayfirst = _day_first(text)
        with_offset = text.str.contains(_OFFSET, na=False).to_numpy(dtype=bool)
        if with_offset.any() and not with_offset.all():
            # Rows with and without an offset: the naive ones are in ``tz``, not silently in UTC.
            naive = _parse_text(text[~with_offset], utc=False, dayfirst=dayfirst)
            naive = naive.tz_localize(tz or "UTC", ambiguous="raise", nonexistent="raise").tz_convert("UTC")
            aware = _parse_text(text[with_offset], utc=True, dayfirst=dayfirst)
            merged = pd.Series(pd.NaT, index=range(len(text)), dtype="datetime64[ns, UTC]")
            merged.iloc[np.flatnonzero(~with_offset)] = naive.as_unit("ns")
            merged.iloc[np.flatnonzero(with_offset)] = aware.as_unit("ns")
            return pd.DatetimeIndex(merged)
        parsed = _parse_text(text, utc=bool(with_offset.any()), dayfirst=dayfirst)
    if parsed.tz is None:
        parsed = parsed.tz_localize(tz or "UTC", ambiguous="raise", nonexistent="raise")
    return parsed.tz_convert("UTC")


#: A date whose year comes last: 31/01/2024, 31-01-2024, 31.01.2024 (day or month first).
_SLASH_DATE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2\d{2,4}(?!\d)")


def _day_first(text: pd.Series) -> bool:
    """Whether year-last dates are day-first (31/01/2024, 31-01-2024, 31.01.2024). A first field
    above 12 says day-first, a second above 12 month-first; dates that fit both (01/02/2024) are
    refused, never guessed (pandas would read 13-03-2024 day-first and 12-03-2024 month-first)."""
    fields = text.str.extract(_SLASH_DATE)[[0, 2]].dropna().astype(int)
    if fields.empty:
        return False
    day_first, month_first = bool((fields[0] > 12).any()), bool((fields[2] > 12).any())
    if day_first and month_first:
        raise DataError("year-last dates are neither all day-first nor all month-first; "
                        "write ISO dates (YYYY-MM-DD).")
    if not (day_first or month_first):
        raise DataError(f"dates such as {text.iloc[0]!r} read as day-first and as month-first alike (ambiguous "
                        "day-first dates); write ISO dates (YYYY-MM-DD) so no bar is put on the wrong day.")
    return day_first


def _parse_text(text: pd.Series, *, utc: bool, dayfirst: bool) -> pd.DatetimeIndex:
    # pandas warns when it falls back to guessing each value's format: what it cannot parse is
    # reported by row below, so the warning would only be a second, noisier line
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.DatetimeIndex(pd.to_datetime(text, errors="coerce", utc=utc, dayfirst=dayfirst))
        if parsed.isna().any() and not parsed.isna().all():
            parsed = pd.DatetimeIndex(pd.to_datetime(text, errors="coerce", utc=utc, format="mixed",
                                                     dayfirst=dayfirst))
    return parsed


def _timestamps(raw: pd.DataFrame, tz: str | None, origin: str) -> pd.DatetimeIndex:
    column = _find(raw, _TS_ALIASES)
    if column is None:
        raise _missing(origin, "ts", _TS_ALIASES, raw)
    _single(raw, column, "ts", origin)
    values = raw[column]
    date, clock = _find(raw, ("date",)), _find(raw, ("time",))
    if column == date and clock is not None and clock != date:  # separate Date and Time columns
        values = raw[date].astype("string") + " " + raw[clock].astype("string")
    try:
        parsed = _to_datetimes(values, tz)
    except Exception as exc:  # pandas/pytz raise several unrelated classes for bad or DST-ambiguous times
        raise DataError(f"{origin}: cannot read column '{column}' as timestamps ({exc}).") from None
    bad = np.asarray(parsed.isna())
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{origin}: cannot parse {values.iloc[row]!r} in column '{column}' as a "
                        f"date/time (data row {row + 1}; {int(bad.sum())} bad value(s)).")
    return parsed


def check_tz(tz: str | None) -> str | None:
    """Return ``tz`` if it is a known time zone name (or None), else raise :class:`ConfigError`."""
    if tz is not None:
        try:
            pd.Timestamp("2000-01-01").tz_localize(tz)
        except Exception:
            raise ConfigError(f"`tz` must be a time zone name such as UTC or America/New_York. "
                              f"Got {tz!r}.") from None
    return tz


def frame_to_bars(raw: pd.DataFrame, symbol: str, timeframe: str, *, tz: str | None = None,
                  use_adj_close: bool = False, calendar: str | None = "XNYS",
                  origin: str = "data") -> pd.DataFrame:
    """Turn a raw table (any column spelling) into a bar frame; ``origin`` names it in errors.

    With ``use_adj_close`` open/high/low/close are multiplied by ``adj_close / close`` so the
    whole bar is on the adjusted scale; volume is left as traded.
    """
    check_timeframe(timeframe)
    check_tz(tz)
    if not isinstance(raw.index, pd.RangeIndex):
        raw = raw.reset_index()
    columns = {}
    for name in OHLCV:
        found = _find(raw, ALIASES[name])
        if found is None:
            raise _missing(origin, name, ALIASES[name], raw)
        columns[name] = _parse_numbers(raw[_single(raw, found, name, origin)], name, origin)
    if use_adj_close:
        adj = _find(raw, ALIASES["adj_close"])
        if adj is None:
            raise _missing(origin, "adj close", ALIASES["adj_close"], raw)
        factor = _parse_numbers(raw[_single(raw, adj, "adj close", origin)], "adj close", origin) / columns["close"]
        for name in ("open", "high", "low", "close"):
            columns[name] = columns[name] * factor
    frame = pd.DataFrame(columns, index=_timestamps(raw, tz, origin))
    return make_bars(frame, symbol, timeframe, calendar)


def _read(path: Path, reader) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"cannot read {path}: no such file.")
    try:
        return reader(path)
    except Exception as exc:  # parsers raise many classes; the user needs the file and the reason
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read {path}: {reason}") from None


def load_csv(path: str | Path, symbol: str, timeframe: str, *, tz: str | None = None,
             use_adj_close: bool = False, calendar: str | None = "XNYS") -> pd.DataFrame:
    """Load a CSV of OHLCV bars (header row required; any common column spelling)."""
    path = Path(path)
    raw = _read(path, lambda p: pd.read_csv(p, skipinitialspace=True))
    return frame_to_bars(raw, symbol, timeframe, tz=tz, use_adj_close=use_adj_close,
                         calendar=calendar, origin=str(path))


def load_parquet(path: str | Path, symbol: str, timeframe: str, *, tz: str | None = None,
                 use_adj_close: bool = False, calendar: str | None = "XNYS") -> pd.DataFrame:
    """Load a Parquet file of OHLCV bars (the time may be a column or the index)."""
    path = Path(path)
    raw = _read(path, pd.read_parquet)
    return frame_to_bars(raw, symbol, timeframe, tz=tz, use_adj_close=use_adj_close,
                         calendar=calendar, origin=str(path))


_LOADERS = {".csv": load_csv, ".txt": load_csv, ".parquet": load_parquet, ".pq": load_parquet}


def load_file(path: str | Path, symbol: str, timeframe: str, *, tz: str | None = None,
              use_adj_close: bool = False, calendar: str | None = "XNYS") -> pd.DataFrame:
    """Load a bar file, choosing the reader by suffix (``.csv``, ``.csv.gz``, ``.parquet``)."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    suffix = suffixes[-2] if len(suffixes) > 1 and suffixes[-1] in (".gz", ".zip", ".bz2", ".xz") else (
        suffixes[-1] if suffixes else "")
    loader = _LOADERS.get(suffix)
    if loader is None:
        raise DataError(f"cannot read {path}: unknown file type {suffix or '(none)'}; "
                        f"use one of {', '.join(_LOADERS)}.")
    return loader(path, symbol, timeframe, tz=tz, use_adj_close=use_adj_close, calendar=calendar)


def _sql_error(where: str, exc: Exception) -> DataError:
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return DataError(f"cannot read {where}: {reason}")


def _sql_frame(engine: sa.Engine, table: str, symbol: str, timeframe: str, ts_column: str | None) -> pd.DataFrame:
    """Select the rows of ``table`` (filtered by its symbol/timeframe columns if it has them)."""
    import sqlalchemy as sa

    where = f"table {table!r} in {engine.url.render_as_string(hide_password=True)}"
    schema, _, name = table.rpartition(".")
    try:
        tbl = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=engine)
    except sa.exc.NoSuchTableError:
        raise DataError(f"cannot read {where}: no such table.") from None
    except sa.exc.SQLAlchemyError as exc:
        raise _sql_error(where, exc) from None
    cols = {_key(c.name): c for c in tbl.columns}
    ts_key = _key(ts_column) if ts_column else next((a for a in _TS_ALIASES if a in cols), None)
    if ts_key not in cols:
        found = ", ".join(c.name for c in tbl.columns)
        raise DataError(f"{where}: missing column {ts_column or 'ts'!r}; found columns: {found}.")
    query = sa.select(tbl)
    if "symbol" in cols:
        query = query.where(cols["symbol"] == symbol)
    if "timeframe" in cols:
        query = query.where(cols["timeframe"] == timeframe)
    try:
        with engine.connect() as conn:  # tables have no order: ORDER BY is part of reading bars
            raw = pd.read_sql(query.order_by(cols[ts_key]), conn)
    except sa.exc.SQLAlchemyError as exc:
        raise _sql_error(where, exc) from None
    if raw.empty:
        raise DataError(f"{where}: no rows for symbol {symbol!r}, timeframe {timeframe!r}.")
    ts = raw.pop(cols[ts_key].name)
    return raw.assign(ts=ts)


def load_sql(url_or_engine: str | sa.Engine, table: str, *, symbol: str, timeframe: str,
             calendar: str | None = "XNYS", ts_column: str | None = None,
             tz: str | None = None) -> pd.DataFrame:
    """Load bars from a SQL table via SQLAlchemy (URL string or Engine).

    The table needs a time column (``ts_column``, else the first of ts/timestamp/datetime/date/
    time) and OHLCV columns under any accepted alias. When the table has a ``symbol`` (or
    ``timeframe``) column only the rows for ``symbol`` (``timeframe``) are read.
    """
    import sqlalchemy as sa

    check_timeframe(timeframe)
    engine = sa.create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    raw = _sql_frame(engine, table, symbol, timeframe, ts_column)
    raw = raw.drop(columns=[c for c in raw.columns if _key(c) in ("symbol", "timeframe", "id")])
    origin = f"table {table!r}"
    return frame_to_bars(raw, symbol, timeframe, tz=tz, calendar=calendar, origin=origin)


def infer_timeframe(index: pd.DatetimeIndex) -> str | None:
    """The timeframe whose length equals the most common spacing between bars, or None.

    The most common spacing, not the median: session-anchored h4 bars alternate 4 h and 20 h
    gaps, so their median can land on 20 h; the mode is 4 h for any realistic sample.
    """
    if len(index) < 2:
        return None
    steps = np.diff(ns(index))
    steps = steps[steps > 0]
    if len(steps) == 0:
        return None
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[np.argmax(counts)])
    return next((name for name, length in TIMEFRAMES.items() if length.value == step), None)


def _resolve_timeframe(bars: pd.DataFrame, timeframe: str | None, origin: str) -> pd.DataFrame:
    """Set the file's own timeframe: the one its spacing shows, else the one the caller gave."""
    inferred = infer_timeframe(bars.index)
    native = inferred or timeframe
    if native is None:
        _mixed_times_of_day(bars.index, origin)
        raise ConfigError(f"`timeframe` was not given and cannot be inferred from the bar spacing "
                          f"of {origin}; pass one of {', '.join(TIMEFRAMES)}.")
    bars.attrs["timeframe"] = native
    return bars


def _mixed_times_of_day(index: pd.DatetimeIndex, origin: str) -> None:
    """Bars a day or more apart at more than one time of day: why no timeframe fits their spacing
    (00:00 and 05:00 UTC alternate when some rows carry +00:00 and others -05:00). Two times an
    hour apart are a daylight-saving change and pass, as in the alignment rule."""
    if len(index) < 2 or np.median(np.diff(ns(index))) < DAY_NS // 2:
        return
    phase = ns(index) % DAY_NS
    values, counts = np.unique(phase, return_counts=True)
    if len(values) < 2 or (len(values) == 2 and abs(int(values[1] - values[0])) == DAY_NS // 24):
        return
    main = values[np.argmax(counts)]
    one, other = index[int(np.argmax(phase == main))], index[int(np.argmax(phase != main))]
    raise DataError(f"{origin}: mixed UTC offsets: the bars fall at {len(values)} times of day, e.g. {one} and "
                    f"{other}, so no timeframe fits their spacing; write every time in one offset (or none, "
                    "with --tz).")


def _file_symbol(path: Path) -> str:
    return path.name.split(".")[0].upper() or "UNKNOWN"


def open_bars(*, dataset: str | None = None, data: str | Path | None = None,
              symbol: str | None = None, timeframe: str | None = None, tz: str | None = None,
              calendar: str | None = None, use_adj_close: bool = False,
              min_rows: int = 0) -> pd.DataFrame:
    """The one way commands get bars: an embedded ``dataset`` or a ``data`` file, validated.

    * exactly one of ``dataset`` / ``data`` (else :class:`ConfigError`);
    * files: ``symbol`` defaults to the file name before its first dot, upper-cased; the file's
      own timeframe is inferred from its most common bar spacing (:func:`infer_timeframe`) and
      falls back to ``timeframe`` when the spacing matches none;
    * ``calendar``: None means the default (the dataset's own, ``XNYS`` for files); pass
      ``"24/7"`` for continuous markets or ``"none"`` for no calendar;
    * ``timeframe`` coarser than the data's → resampled to complete bars; finer → ConfigError;
    * the bars are validated (:func:`validate_bars`, with ``min_rows`` checked on the result).
    """
    if (dataset is None) == (data is None):
        got = "both" if dataset is not None else "neither"
        raise ConfigError(f"pass exactly one of `dataset` (an embedded dataset name) or `data` "
                          f"(a CSV/Parquet path). Got {got}.")
    if timeframe is not None:
        check_timeframe(timeframe)
    calendar = check_calendar(calendar)
    weekend_calendar = None
    if dataset is not None:
        if tz is not None:
            raise ConfigError(f"`tz` applies to files only; datasets are already UTC. Got {tz!r}.")
        bars = load_dataset(dataset)
    else:
        path = Path(data)
        bars = load_file(path, symbol or _file_symbol(path), timeframe or "d1", tz=tz,
                         use_adj_close=use_adj_close, calendar=calendar or "XNYS")
        if bars.empty:  # before the spacing is read: a file without rows has none
            raise DataError(f"{data}: no bars (the file has a header but no rows); give it some bars.")
        bars = _resolve_timeframe(bars, timeframe, str(path))
        if calendar is None and _trades_on_weekends(bars):
            # No exchange session falls on a Saturday or Sunday: such a file is a 24/7 market,
            # and judging it by XNYS sessions would call every weekend bar an error. It still
            # passes every rule (spacing, alignment) and the 24/7 gap check.
            calendar = weekend_calendar = CONTINUOUS
        elif calendar is None and _trades_fx_week(bars):
            calendar = weekend_calendar = FX
    if bars.empty:
        raise DataError(f"{dataset or data}: no bars (the file has a header but no rows); give it some bars.")
    if calendar is not None:
        bars.attrs["calendar"] = None if calendar == "none" else calendar
    if symbol is not None:
        bars.attrs["symbol"] = symbol
    validate_bars(bars)
    if weekend_calendar:  # said once the bars pass: a refused file gets its one error line only
        log.warning("%s has %s: calendar %s (pass --calendar to choose another)", data,
                    "weekend bars" if weekend_calendar == CONTINUOUS else "Sunday-evening bars and none on Saturday",
                    weekend_calendar)
    bars = _to_timeframe(bars, timeframe)
    validate_bars(bars, min_rows=min_rows)
    return bars


def _trades_fx_week(bars: pd.DataFrame) -> bool:
    """Intraday bars on Sunday (UTC) but none on Saturday, every one inside the FX week (Sunday
    17:00 to Friday 17:00 New York): an FX series, which XNYS sessions would call mostly closed."""
    timeframe = bars.attrs.get("timeframe")
    if timeframe not in INTRADAY or len(bars) == 0:
        return False
    weekday = pd.DatetimeIndex(bars.index).dayofweek
    return bool((weekday == 6).any() and not (weekday == 5).any()
                and fx_bar_open(ns(bars.index), TIMEFRAMES[timeframe]).all())


def _trades_on_weekends(bars: pd.DataFrame) -> bool:
    """Whether a meaningful share (over 5%) of bars open on Saturday or Sunday, UTC."""
    if len(bars) == 0:
        return False
    return float(np.mean(pd.DatetimeIndex(bars.index).dayofweek >= 5)) > 0.05


def _to_timeframe(bars: pd.DataFrame, timeframe: str | None) -> pd.DataFrame:
    native = bars.attrs["timeframe"]
    if timeframe is None or timeframe == native:
        return bars
    order = list(TIMEFRAMES)
    if order.index(timeframe) < order.index(native):
        raise ConfigError(f"`timeframe` {timeframe!r} is finer than the data, whose bars are "
                          f"{native}; pass {native} or a coarser timeframe.")
    return resample(bars, timeframe)
