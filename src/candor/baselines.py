"""Baseline predictions every model score is reported beside: an accuracy alone cannot say
whether the model beats guessing.

* ``majority``    — the most frequent class of the training fold.
* ``persistence`` — the most recent label already *known* at prediction time, i.e. whose
  window has resolved (``t1 <= t``). Using the previous row's label would peek: with a
  5-bar horizon that label resolves 4 bars in the future.
* ``stratified``  — random draws from the training class frequencies (a chance level that
  respects the class balance).

For probabilities the baseline is the **class prior**: the training fold's class frequencies,
given to every test row (:func:`class_prior`). A model whose log-loss is above the prior's
confidently says things it does not know.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from candor.errors import ConfigError

_NEVER = np.iinfo(np.int64).max


def majority(y_train: Any, n: int) -> np.ndarray:
    """``n`` copies of the training fold's most frequent class (ties → smallest label)."""
    values, counts = np.unique(np.asarray(y_train), return_counts=True)
    if len(values) == 0:
        raise ConfigError("`y_train` is empty; the majority baseline needs training labels.")
    return np.full(n, values[np.argmax(counts)])


def stratified(y_train: Any, n: int, random_state: int | None = 0) -> np.ndarray:
    """``n`` draws from the training class frequencies, seeded."""
    values, counts = np.unique(np.asarray(y_train), return_counts=True)
    if len(values) == 0:
        raise ConfigError("`y_train` is empty; the stratified baseline needs training labels.")
    rng = np.random.default_rng(random_state)
    return rng.choice(values, size=n, p=counts / counts.sum())


def class_prior(y_train: Any, classes: Any, n: int) -> np.ndarray:
    """``n`` rows of the training fold's class frequencies, columns in ``classes`` order.

    A class absent from ``y_train`` gets probability 0 (as a member trained there would).
    """
    y_train, classes = np.asarray(y_train), np.asarray(classes)
    if len(y_train) == 0:
        raise ConfigError("`y_train` is empty; the class prior needs training labels.")
    freq = (y_train[:, None] == classes[None, :]).mean(axis=0)
    return np.tile(freq, (n, 1))


def _as_ns(values: Any, name: str) -> np.ndarray:
    """Timestamps (naive = UTC, aware → UTC) as int64 ns, or plain numbers; NaT/NaN → never."""
    if isinstance(values, (pd.Series, pd.Index)) and values.dtype.kind == "M":
        idx = pd.DatetimeIndex(values)  # not np.asarray: an aware index would become Timestamps one by one
    else:
        arr = np.asarray(values)
        if arr.dtype.kind in "iu":
            return arr.astype(np.int64)
        if arr.dtype.kind == "f":
            return np.where(np.isnan(arr), np.inf, arr)
        try:
            idx = pd.DatetimeIndex(values)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"`{name}` must hold timestamps or numbers; got dtype {arr.dtype}.") from exc
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    out = idx.asi8.copy()
    out[idx.isna()] = _NEVER
    return out


def persistence(ts: Any, y: Any, t1: Any, test_positions: Any, fallback: Any) -> np.ndarray:
    """The most recent label known at each test row's time; ``fallback`` where none is.

    ``ts``, ``y`` and ``t1`` describe ALL rows (any fold), aligned; ``test_positions`` are row
    positions to predict. For a test row at time ``t`` the candidates are rows whose label end
    ``t1 <= t``; among them the one with the latest ``ts`` wins. Works for non-monotone ``t1``
    (triple-barrier labels): rows are sorted by ``t1`` and a running "latest row" is kept, so
    each query is one ``searchsorted``. Rows with ``t1 = NaT`` are never known.
    """
    ts_ns, t1_ns = _as_ns(ts, "ts"), _as_ns(t1, "t1")
    y = np.asarray(y)
    if not len(ts_ns) == len(t1_ns) == len(y):
        raise ConfigError(
            f"`ts`, `y` and `t1` must have the same length; got {len(ts_ns)}, {len(y)}, {len(t1_ns)}."
        )
    pos = np.asarray(test_positions, dtype=np.int64)
    order = np.lexsort((ts_ns, t1_ns))  # by t1, ties by ts
    # position (in original rows) of the latest-ts row among the first k rows sorted by t1
    best_row = order[_running_argmax(ts_ns[order])]
    k = np.searchsorted(t1_ns[order], ts_ns[pos], side="right")
    known = k > 0
    out = np.full(len(pos), fallback, dtype=np.result_type(y.dtype, np.asarray(fallback).dtype))
    out[known] = y[best_row[k[known] - 1]]
    return out


def _running_argmax(values: np.ndarray) -> np.ndarray:
    """Index of the running maximum (last occurrence on ties), vectorised."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    running = np.maximum.accumulate(values)
    is_new = values >= running  # this element is (one of) the running max
    idx = np.where(is_new, np.arange(len(values)), 0)
    return np.maximum.accumulate(idx)
