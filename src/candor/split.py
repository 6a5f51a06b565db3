"""Time-ordered cross-validation that cannot leak labels: purged walk-forward and the final holdout.

Timing model. Row i of X is a sample whose features are known at the close of bar ``ts_i`` and
whose label resolves at the close of bar ``t1_i`` (see :mod:`candor.labels`); its *label
interval* is the closed interval ``[ts_i, t1_i]``. For each contiguous block of test rows the
*test span* is ``[first test ts, max t1 of the test rows]``. A training row is

* **purged** if its label interval overlaps a test span (it would share price moves with the
  rows it is scored against), and also if it is one of the ``purge`` rows right before a test
  block (extra margin for features with memory);
* **embargoed** if it is one of the ``embargo`` rows right after the end of a test span (the
  last row whose ts ≤ the span's end, or the last test row when there is no ``t1``): those rows'
  features still carry information from the test period. Walk-forward folds and the holdout
  split train only on rows before the test block, so for them the embargo removes no row.

Where ``t1`` comes from, first match wins: ``groups`` passed to ``split`` (array-like of
timestamps aligned with X, the sklearn way to pass per-row data through ``cross_val_score``),
the ``t1`` argument of :meth:`folds`, the constructor's ``t1``. Row times ``ts`` are X's index
when it is a DatetimeIndex, else the index of a ``t1`` Series of the same length. ``t1`` given as
a Series with a DatetimeIndex is aligned to X's index (so ``Labels.t1`` may cover more rows than
X). Without any ``t1`` only the positional ``purge`` / ``embargo`` apply. Positions, never
shuffled; every returned index array is sorted ascending.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from candor.errors import ConfigError

IndexPair = tuple[np.ndarray, np.ndarray]
#: (row times or None, row times as int64 ns or None, label end times as int64 ns or None)
Timing = tuple[pd.DatetimeIndex | None, np.ndarray | None, np.ndarray | None]


@dataclass(frozen=True, eq=False)
class Fold:
    """One train/test split as sorted integer positions into X, with the row times if known."""

    index: int
    train: np.ndarray
    test: np.ndarray
    times: pd.DatetimeIndex | None = field(default=None, repr=False)

    @property
    def n_train(self) -> int:
        return len(self.train)

    @property
    def n_test(self) -> int:
        return len(self.test)

    def _span(self, positions: np.ndarray) -> tuple[pd.Timestamp, pd.Timestamp]:
        if self.times is None:
            raise ConfigError("this fold has no row times; split an X with a DatetimeIndex.")
        return self.times[positions[0]], self.times[positions[-1]]

    @property
    def train_span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """(first, last) bar open time of the training rows."""
        return self._span(self.train)

    @property
    def test_span(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """(first, last) bar open time of the test rows."""
        return self._span(self.test)


# --------------------------------------------------------------------------- timing helpers


def _as_utc_index(values: Any) -> pd.DatetimeIndex:
    """Timestamps (naive = UTC) from a Series, Index or any array-like, as a UTC DatetimeIndex."""
    if not isinstance(values, (pd.Series, pd.Index)):
        values = np.asarray(values)
    elif isinstance(values.dtype, pd.DatetimeTZDtype):  # already aware: to_datetime would walk it element by element
        return pd.DatetimeIndex(values).tz_convert("UTC")
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True))


def _resolve_timing(X: Any, source: Any) -> Timing:
    """Row times, and row times and label end times as int64 ns (None without a t1 source)."""
    n = _num_samples(X)
    x_index = getattr(X, "index", None)
    times = x_index if isinstance(x_index, pd.DatetimeIndex) else None
    if source is None:
        return times, None, None
    if isinstance(source, pd.Series) and isinstance(source.index, pd.DatetimeIndex):
        if times is None and len(source) == n:
            times = source.index
        elif times is not None:
            source = source.reindex(times)
    if times is None:
        raise ConfigError(
            "`t1` needs the rows' times: pass X with a DatetimeIndex of bar open times, or `t1` "
            "as a pd.Series indexed by them."
        )
    if len(source) != n:
        raise ConfigError(f"`t1` must have one value per row of X ({n}). Got {len(source)}.")
    return _checked_t1(times, source)


def _checked_t1(times: pd.DatetimeIndex, source: Any) -> Timing:
    """Validate that times are increasing and every t1 exists and is not before its row."""
    t1_index = _as_utc_index(source)
    if t1_index.isna().any():
        first = times[np.flatnonzero(t1_index.isna())[0]]
        raise ConfigError(
            f"`t1` is missing for {int(t1_index.isna().sum())} row(s) of X, first at {first}; "
            "pass the label end times of every row (e.g. Labels.t1)."
        )
    ts_ns = _as_utc_index(times).as_unit("ns").asi8
    t1_ns = t1_index.as_unit("ns").asi8
    if len(ts_ns) > 1 and not (np.diff(ts_ns) > 0).all():
        raise ConfigError("X's row times must be strictly increasing to split in time order.")
    if (t1_ns < ts_ns).any():
        first = times[np.flatnonzero(t1_ns < ts_ns)[0]]
        raise ConfigError(f"`t1` must be >= each row's own time; row {first} ends before it starts.")
    return times, ts_ns, t1_ns


def _num_samples(X: Any) -> int:
    if hasattr(X, "shape"):
        return int(X.shape[0])
    return len(X)


def _purge(
    keep: np.ndarray,
    block: tuple[int, int],
    ts_ns: np.ndarray | None,
    t1_ns: np.ndarray | None,
    purge: int,
    embargo: int,
) -> None:
    """Clear ``keep`` for test rows ``[start, stop)`` and the rows they would leak into."""
    start, stop = block
    keep[start:stop] = False
    keep[max(start - purge, 0):start] = False
    if t1_ns is None or ts_ns is None:
        span_end_pos = stop - 1
    else:
        span_start, span_end = ts_ns[start], t1_ns[start:stop].max()
        keep[(ts_ns <= span_end) & (t1_ns >= span_start)] = False
        span_end_pos = max(int(np.searchsorted(ts_ns, span_end, side="right")) - 1, stop - 1)
    keep[span_end_pos + 1 : span_end_pos + 1 + embargo] = False


def _blocks(positions: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs ``[start, stop)`` of sorted positions."""
    if len(positions) == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    return [(int(run[0]), int(run[-1]) + 1) for run in np.split(positions, breaks)]


def _train_rows(n: int, test: np.ndarray, timing: Timing, purge: int, embargo: int) -> np.ndarray:
    """All positions not in ``test`` and not purged/embargoed by any of its blocks."""
    _, ts_ns, t1_ns = timing
    keep = np.ones(n, dtype=bool)
    for block in _blocks(test):
        _purge(keep, block, ts_ns, t1_ns, purge, embargo)
    return np.flatnonzero(keep)


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"`{name}` must be an integer >= {low}. Got {value!r}.")
    if value < low:
        raise ConfigError(f"`{name}` must be >= {low}. Got {value}.")


# --------------------------------------------------------------------------- walk-forward


class _FoldSplitter:
    """sklearn's splitter protocol over :meth:`folds`: ``split`` yields each fold's ``(train,
    test)`` sorted int positions, in :meth:`folds`' order; ``groups``, when given, are the label
    end times ``t1`` (so a pipeline's CV can pass them per call)."""

    def folds(self, X: Any, t1: Any = None) -> list[Fold]:
        raise NotImplementedError

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[IndexPair]:
        for fold in self.folds(X, t1=groups):
            yield fold.train, fold.test


class PurgedWalkForward(_FoldSplitter):
    """Walk-forward CV: ``n_splits`` consecutive test blocks at the end of the data, each trained
    on earlier rows only (expanding from row 0, or the newest ``train_size`` usable rows), with
    label-overlap purging, ``purge`` bars dropped before each test block and an ``embargo``.

    ``test_size`` defaults to ``len(X) // (n_splits + 1)``. A rolling window keeps the newest
    ``train_size`` rows that survive purging (fewer while the history is shorter); a fold with
    fewer than ``min_train_size`` (default 1) training rows is a ConfigError. Follows sklearn's splitter protocol
    (``split`` / ``get_n_splits``) and never shuffles; :meth:`folds` returns typed folds.
    """

    def __init__(
        self,
        n_splits: int = 5,
        *,
        test_size: int | None = None,
        window: str = "expanding",
        train_size: int | None = None,
        purge: int = 0,
        embargo: int = 0,
        min_train_size: int | None = None,
        t1: pd.Series | None = None,
    ) -> None:
        _check_int("n_splits", n_splits, 1)
        for name, value, low in (("test_size", test_size, 1), ("train_size", train_size, 1),
                                 ("min_train_size", min_train_size, 1)):
            if value is not None:
                _check_int(name, value, low)
        _check_int("purge", purge, 0)
        _check_int("embargo", embargo, 0)
        if window not in ("expanding", "rolling"):
            raise ConfigError(f"`window` must be 'expanding' or 'rolling'. Got {window!r}.")
        if window == "rolling" and train_size is None:
            raise ConfigError("`train_size` is required when window='rolling'. Got None.")
        self.n_splits, self.test_size, self.window = n_splits, test_size, window
        self.train_size, self.purge, self.embargo = train_size, purge, embargo
        self.min_train_size, self.t1 = min_train_size, t1

    def __repr__(self) -> str:
        return (f"PurgedWalkForward(n_splits={self.n_splits}, test_size={self.test_size}, "
                f"window={self.window!r}, train_size={self.train_size}, purge={self.purge}, "
                f"embargo={self.embargo}, t1={'set' if self.t1 is not None else None})")

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return self.n_splits

    def folds(self, X: Any, t1: Any = None) -> list[Fold]:
        """All folds as :class:`Fold` objects (raises ConfigError if they do not fit)."""
        n = _num_samples(X)
        timing = _resolve_timing(X, t1 if t1 is not None else self.t1)
        folds = self._build(n, self.n_splits, timing)
        if folds is None:
            raise ConfigError(self._too_many_message(n, timing))
        return [Fold(k, train, test, timing[0]) for k, (train, test) in enumerate(folds)]

    def _test_size(self, n: int, n_splits: int) -> int:
        return self.test_size if self.test_size is not None else n // (n_splits + 1)

    def _build(self, n: int, n_splits: int, timing: Timing, first_only: bool = False) -> list | None:
        """The folds for ``n_splits``, or None when a test block or training set would not fit."""
        size = self._test_size(n, n_splits)
        if size < 1 or n_splits * size >= n:
            return None
        need = self.min_train_size or 1
        out = []
        for k in range(1 if first_only else n_splits):
            start = n - (n_splits - k) * size
            test = np.arange(start, start + size)
            train = _train_rows(n, test, timing, self.purge, self.embargo)
            train = train[train < start]
            if self.window == "rolling":
                train = train[-self.train_size:]
            if len(train) < need:
                return None
            out.append((train, test))
        return out

    def _too_many_message(self, n: int, timing: Timing) -> str:
        """Name ``n_splits``, its value and the largest value that fits (binary search)."""
        lo, hi = 0, self.n_splits - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._build(n, mid, timing, first_only=True) is not None:
                lo = mid
            else:
                hi = mid - 1
        fix = f"at most {lo} fit" if lo else "no fold fits; use more data or a smaller test_size/purge"
        return (
            f"`n_splits` = {self.n_splits} is too many for {n} rows (test_size={self.test_size}, "
            f"purge={self.purge}, min_train_size={self.min_train_size}): a test block would be "
            f"empty or a training set purged below its minimum; {fix}."
        )


# --------------------------------------------------------------------------- final holdout


def holdout_split(
    index: pd.DatetimeIndex,
    t1: pd.Series | Sequence | None,
    holdout: int | float,
    *,
    purge: int = 0,
) -> IndexPair:
    """Split positions into (development, holdout): the newest rows are the final holdout.

    ``holdout`` is a row count (an int ≥ 1) or a fraction (a float in (0, 1), rounded up). Development rows
    whose label interval ``[ts, t1]`` reaches into the holdout, and the ``purge`` rows before it,
    are dropped, so nothing fit during model selection has seen a holdout price.
    """
    n = len(index)
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float, np.integer, np.floating)):
        raise ConfigError(f"`holdout` must be a row count or a fraction in (0, 1). Got {holdout!r}.")
    if isinstance(holdout, (float, np.floating)):
        if not 0 < holdout < 1:
            raise ConfigError(f"`holdout` as a fraction must be in (0, 1). Got {holdout}.")
        size = math.ceil(holdout * n)
    else:
        size = int(holdout)
    _check_int("purge", purge, 0)
    if not 1 <= size < n:
        raise ConfigError(
            f"`holdout` = {holdout} must leave at least one holdout and one development row of "
            f"{n}; use between 1 and {n - 1} rows."
        )
    timing = _resolve_timing(pd.DataFrame(index=index), t1)
    test = np.arange(n - size, n)
    dev = _train_rows(n, test, timing, purge, 0)
    if len(dev) == 0:
        raise ConfigError(f"`holdout` = {holdout} leaves no development rows after purging.")
    return dev, test


# --------------------------------------------------------------------------- combinatorial purged CV


def cpcv_n_paths(n_groups: int, n_test_groups: int) -> int:
    """φ = C(N, k)·k/N = C(N−1, k−1): the backtest paths C(N, k) splits recombine into."""
    return math.comb(n_groups, n_test_groups) * n_test_groups // n_groups


class CombinatorialPurgedCV(_FoldSplitter):
    """Combinatorial purged CV (López de Prado, AFML ch. 12): the rows fall into ``n_groups``
    contiguous groups (``n // N`` rows each, the last one takes the remainder); each of the
    C(N, k) splits tests ``n_test_groups`` of them and trains on every other row that survives
    purging and the embargo *on both sides* of every test block — label-interval purging from
    ``t1`` as in :class:`PurgedWalkForward`, ``purge`` rows before each block, ``embargo`` rows
    after each test span. Training rows after a test block are allowed (that is the point), so
    the embargo matters here.

    Every group is tested in φ = C(N−1, k−1) splits; :meth:`path_splits` assigns the j-th of them
    to path j, so each of the φ paths covers every row once, each group predicted by a model that
    never trained on it. Same group and purge conventions as skfolio's ``CombinatorialPurgedCV``
    (``purged_size`` = the label horizon in bars, when ``t1`` is ts shifted by that horizon).
    """

    def __init__(self, n_groups: int = 6, n_test_groups: int = 2, *, purge: int = 0, embargo: int = 0,
                 t1: pd.Series | None = None) -> None:
        _check_int("n_groups", n_groups, 2)
        _check_int("n_test_groups", n_test_groups, 1)
        _check_int("purge", purge, 0)
        _check_int("embargo", embargo, 0)
        if n_test_groups >= n_groups:
            raise ConfigError(f"`n_test_groups` ({n_test_groups}) must be smaller than `n_groups` ({n_groups}).")
        self.n_groups, self.n_test_groups = n_groups, n_test_groups
        self.purge, self.embargo, self.t1 = purge, embargo, t1

    def __repr__(self) -> str:
        return (f"CombinatorialPurgedCV(n_groups={self.n_groups}, n_test_groups={self.n_test_groups}, "
                f"purge={self.purge}, embargo={self.embargo}, t1={'set' if self.t1 is not None else None})")

    @property
    def combinations(self) -> list[tuple[int, ...]]:
        """The test groups of each split, in lexicographic order."""
        return list(itertools.combinations(range(self.n_groups), self.n_test_groups))

    @property
    def n_paths(self) -> int:
        return cpcv_n_paths(self.n_groups, self.n_test_groups)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return math.comb(self.n_groups, self.n_test_groups)

    def path_splits(self) -> np.ndarray:
        """``(n_paths, n_groups)`` array: the split whose test set supplies group g on path p."""
        out = np.empty((self.n_paths, self.n_groups), dtype=np.int64)
        seen = np.zeros(self.n_groups, dtype=np.int64)
        for s, combo in enumerate(self.combinations):
            for g in combo:
                out[seen[g], g] = s
                seen[g] += 1
        return out

    def group_of(self, n: int) -> np.ndarray:
        """The group number of each of ``n`` rows."""
        size = n // self.n_groups
        if size < 1:
            raise ConfigError(f"`n_groups` = {self.n_groups} is too many for {n} rows; use at most {n}.")
        return np.minimum(np.arange(n) // size, self.n_groups - 1)

    def folds(self, X: Any, t1: Any = None) -> list[Fold]:
        """Every split as a :class:`Fold` (``index`` = the split's number in :attr:`combinations`)."""
        n = _num_samples(X)
        timing = _resolve_timing(X, t1 if t1 is not None else self.t1)
        group = self.group_of(n)
        out = []
        for s, combo in enumerate(self.combinations):
            test = np.flatnonzero(np.isin(group, combo))
            train = _train_rows(n, test, timing, self.purge, self.embargo)
            if len(train) == 0:
                raise ConfigError(f"CPCV split {combo} leaves no training rows after purging; use fewer "
                                  "`cpcv_test_groups`, a smaller purge/embargo or more data.")
            out.append(Fold(s, train, test, timing[0]))
        return out
