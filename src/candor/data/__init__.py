"""Bars: loading, validation, resampling, embedded datasets and synthetic series."""

from candor.data.bars import OHLCV, TIMEFRAMES, make_bars, symbol_of, timeframe_of
from candor.data.datasets import DATASET_NAMES, DatasetInfo, describe_datasets, load_dataset
from candor.data.gaps import GAP_POLICIES, GapReport, apply_gap_policy, find_gaps
from candor.data.resample import bar_close_times, period_labels, resample
from candor.data.sources import (
    infer_timeframe,
    load_csv,
    load_file,
    load_parquet,
    load_sql,
    open_bars,
)
from candor.data.validate import RULES, validate_bars

__all__ = [
    "DATASET_NAMES", "GAP_POLICIES", "OHLCV", "RULES", "TIMEFRAMES", "DatasetInfo", "GapReport",
    "apply_gap_policy", "bar_close_times", "describe_datasets", "find_gaps", "infer_timeframe",
    "load_csv", "load_dataset", "load_file", "load_parquet", "load_sql", "make_bars", "open_bars",
    "period_labels", "resample", "symbol_of", "timeframe_of", "validate_bars",
]
