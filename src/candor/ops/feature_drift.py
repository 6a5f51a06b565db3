"""Feature drift judged like with like: the live window against an empirical null of equally long windows.

Why: a PSI of 60 recent bars against a multi-year training distribution is large by construction.
Features are autocorrelated (a 20-bar volatility changes slowly), so 60 consecutive bars cover a
narrow part of the training span's spread even when nothing has changed; the PSI's textbook
thresholds (0.1 / 0.25) assume independent draws, and the day after training the monitor read
PSI 7–8 on an unchanged market.

The rule (:func:`judge_features`):

* **Reference period** = the bars the champion was validated on (up to its ``holdout_end``), cut
  before the live window so the two never share a bar; bins = the reference's quantiles, shares
  smoothed by half a count per bin.
* **Null** = the PSI of every window of ``psi_window`` bars inside the reference (strided by a
  tenth of the window) against the rest of the reference (the window's own bars left out, as the
  live window is left out): what an ordinary stretch of the same length scores, the features' own
  autocorrelation included.
* A feature's **threshold** is the upper ``(1 - feature_null_quantile) / features`` quantile of a
  gamma with its null's mean and variance (Bonferroni over the features; a tail quantile read
  straight off a few hundred overlapping windows is far too low, see :func:`gamma_quantile`). A
  feature is flagged when its live PSI exceeds its threshold and ``psi_warn``.
* Fewer than ``feature_null_min_windows`` reference windows → no verdict, said in the basis.

Measured (planted and random-walk daily series, 1,300 bars, 60-bar windows): at the nominal 99%
about 7% of stationary checks flagged a feature, at 99.9% about 1.5% (4 in 10 sixty-session
replays had one); the default 99.99% is what keeps a 60-session replay quiet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from candor.config import DriftConfig

_EPS = 1e-4          # share floor, as candor.ops.drift.share_psi
_PSI_FLOOR = 1e-3    # a threshold below this (a constant feature) is read as this
_MAX_WINDOWS = 1000  # null windows at most (strided), so hourly multi-year spans stay cheap


@dataclass(frozen=True)
class FeatureDrift:
    """The live window's PSI per feature, each feature's null threshold, and the flagged ones."""

    psi: dict[str, float] = field(default_factory=dict)
    threshold: dict[str, float] = field(default_factory=dict)  # each feature's null quantile
    family: float | None = None  # each feature's tail level: (1 - quantile) / features
    flagged: dict[str, float] = field(default_factory=dict)  # feature → live PSI / its threshold
    windows: int = 0
    window: int = 0
    quantile: float = 0.9999
    basis: str = ""

    def reason(self, top: int = 3) -> str | None:
        """One line naming the flagged features and how far beyond their null, or None."""
        if not self.flagged:
            return None
        worst = sorted(self.flagged.items(), key=lambda kv: -kv[1])
        named = ", ".join(f"{name} PSI {self.psi[name]:.2f} = {ratio:.1f}x its null threshold {self.threshold[name]:.2f}"
                          for name, ratio in worst[:top])
        more = f" (+{len(worst) - top} more)" if len(worst) > top else ""
        return (f"feature drift: {named}{more} (threshold: the 1 - {self.family:.1e} quantile of a gamma fitted to "
                f"the PSIs of {self.windows} reference windows of {self.window} bars)")


def _bin_codes(reference: np.ndarray, values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin numbers (0..bins-1) of ``reference`` and ``values`` per column, on the reference's quantiles."""
    ref_codes = np.empty(reference.shape, dtype=np.int16)
    codes = np.empty(values.shape, dtype=np.int16)
    cuts = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1], axis=0)
    for k in range(reference.shape[1]):
        edges = np.unique(cuts[:, k])
        ref_codes[:, k] = np.searchsorted(edges, reference[:, k], side="right")
        codes[:, k] = np.searchsorted(edges, values[:, k], side="right")
    return ref_codes, codes


def _psi(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """PSI along the last axis of share arrays (shares floored at 1e-4)."""
    ref, cur = np.maximum(ref, _EPS), np.maximum(cur, _EPS)
    return np.sum((cur - ref) * np.log(cur / ref), axis=-1)


def window_psi(reference: np.ndarray, live: np.ndarray, bins: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(live PSI per column, null PSIs: windows × columns) of ``live`` against ``reference``.

    Null window *j* is compared with the reference without its own bars; every window is
    ``window`` bars long (``live`` is its last ``window`` rows).
    """
    live = live[-window:]
    ref_codes, codes = _bin_codes(reference, live, bins)
    n, k = ref_codes.shape
    stride = max(window // 10, -(-(n - window + 1) // _MAX_WINDOWS), 1)  # neighbours share 90% of their bars
    starts = np.arange(0, n - window + 1, stride)
    total = np.empty((k, bins))
    in_window = np.empty((len(starts), k, bins))
    live_shares = np.empty((k, bins))
    for b in range(bins):
        hit = ref_codes == b
        running = np.vstack([np.zeros((1, k)), np.cumsum(hit, axis=0)])
        total[:, b] = running[-1]
        in_window[:, :, b] = running[starts + window] - running[starts]
        live_shares[:, b] = (codes == b).mean(axis=0)
    live_counts = live_shares * window
    null = _psi(_smooth(total - in_window, n - window), _smooth(in_window, window))
    return _psi(_smooth(total, n), _smooth(live_counts, window)), null


def _smooth(counts: np.ndarray, n: int) -> np.ndarray:
    """Shares with half a count added to every bin: a bin that 60 bars happen to miss would otherwise
    add ~0.7 to the PSI through the 1e-4 floor, a jump that dominates the null's tail."""
    return (counts + 0.5) / (n + 0.5 * counts.shape[-1])


def judge_features(reference: pd.DataFrame, live: pd.DataFrame, config: DriftConfig, basis: str) -> FeatureDrift:
    """The rule of this module: ``live``'s last ``psi_window`` rows against ``reference``'s empirical null."""
    window, q = config.psi_window, config.feature_null_quantile
    columns = [c for c in reference.columns if c in live.columns]
    windows = len(reference) - window + 1
    if len(live) < window or windows < config.feature_null_min_windows or not columns:
        need = window + config.feature_null_min_windows - 1
        return FeatureDrift(window=window, quantile=q, basis=(
            f"no feature-drift verdict: {len(reference)} reference bars and {len(live)} live bars "
            f"(need {need} and {window} for an empirical null of {window}-bar windows)"))
    ref = reference[columns].to_numpy(float)
    now, null = window_psi(ref, live[columns].to_numpy(float), config.psi_bins, window)
    level = (1.0 - q) / len(columns)  # Bonferroni: the family's chance of a false flag per check is 1 - q
    threshold = np.maximum(gamma_quantile(null, level), _PSI_FLOOR)
    ratio = now / threshold
    flagged = {c: round(float(r), 3) for c, r, p in zip(columns, ratio, now) if r > 1.0 and p > config.psi_warn}
    return FeatureDrift({c: float(v) for c, v in zip(columns, now)},
                        {c: round(float(t), 6) for c, t in zip(columns, threshold)},
                        level, flagged, len(null), window, q,
                        f"{basis}: last {window} bars vs a gamma fitted to the PSIs of {len(null)} equally long "
                        f"reference windows, flagged beyond its 1 - {level:.1e} quantile")


def gamma_quantile(null: np.ndarray, tail: float) -> np.ndarray:
    """Per column, the upper ``tail`` quantile of a gamma with the null PSIs' mean and variance.

    The empirical 99th percentile of a few hundred overlapping windows is, in effect, the maximum
    of a dozen independent ones: a new window beats it far more often than 1 in 100 (measured:
    a quarter of stationary checks). Two moments are stable where a tail quantile is not, and the
    gamma (PSI is a sum of squared-deviation-like terms) carries them into the tail.
    """
    from scipy.special import gammainccinv  # lazy: scipy.special only where features are judged

    mean = np.maximum(null.mean(axis=0), _PSI_FLOOR)
    var = np.maximum(null.var(axis=0), _PSI_FLOOR**2)
    shape, scale = mean**2 / var, var / mean
    return scale * gammainccinv(shape, tail)
