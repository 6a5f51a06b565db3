"""sklearn transformers for the feature matrix: scaling and correlation pruning.

Both are meant to live inside an ``sklearn.pipeline.Pipeline`` so that cross-validation refits
them on each training fold — a scaler or a pruner fit on the whole series would leak the test
span's statistics into training.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, RobustScaler, StandardScaler
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from candor.errors import ConfigError

SCALERS: dict[str, Callable[[], BaseEstimator]] = {
    "standard": StandardScaler,
    "minmax": MinMaxScaler,
    "robust": RobustScaler,
    "none": lambda: FunctionTransformer(feature_names_out="one-to-one"),
}


def make_scaler(method: str) -> BaseEstimator:
    """A fresh, unfitted scaler for ``method`` (standard / minmax / robust / none)."""
    if method not in SCALERS:
        raise ConfigError(f"`scaler` must be one of {', '.join(SCALERS)}. Got {method!r}.")
    return SCALERS[method]()


class CorrelationPruner(TransformerMixin, BaseEstimator):
    """Drop features that nearly duplicate an earlier one (|Pearson r| > ``threshold``).

    Columns are scanned left to right; a column is kept unless its absolute correlation with an
    already *kept* column exceeds ``threshold`` — so of each such pair the later one goes, and
    the catalog order (returns first, context last) decides which name survives. Constant
    columns have no defined correlation and are kept. Fit on the training fold only.
    """

    def __init__(self, threshold: float = 0.95) -> None:
        self.threshold = threshold

    def fit(self, X, y=None):  # noqa: N803 - sklearn signature
        """Learn which columns to keep from ``X`` (the training fold)."""
        if not 0.0 < float(self.threshold) <= 1.0:
            raise ConfigError(f"`threshold` must be in (0, 1]. Got {self.threshold!r}.")
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        corr = _abs_corr(X)
        keep = np.zeros(X.shape[1], dtype=bool)
        for j in range(X.shape[1]):
            keep[j] = not np.any(corr[j, keep] > self.threshold)
        self.support_ = keep
        self.dropped_ = np.flatnonzero(~keep)
        return self

    def transform(self, X):  # noqa: N803 - sklearn signature
        """Keep the columns chosen at fit time."""
        check_is_fitted(self, "support_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return X[:, self.support_]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the kept columns (``x0, x1, ...`` when fit on an array without names)."""
        check_is_fitted(self, "support_")
        names = _check_feature_names_in(self, input_features)
        return np.asarray(names, dtype=object)[self.support_]


def _abs_corr(X: np.ndarray) -> np.ndarray:
    """|Pearson correlation| between columns; 0 where a column is constant (or one row)."""
    centred = X - X.mean(axis=0)
    norms = np.sqrt((centred * centred).sum(axis=0))
    ok = norms > 0
    scaled = np.zeros_like(centred, dtype=np.float64)
    scaled[:, ok] = centred[:, ok] / norms[ok]
    corr = np.abs(scaled.T @ scaled)
    np.fill_diagonal(corr, 0.0)
    return corr
