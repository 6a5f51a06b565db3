"""Performance metrics on per-period returns, the trade list, and Sharpe inference (PSR, DSR).

Everything here is plain numpy on arrays (no pandas) so that a million periods cost a few
milliseconds: the backtest is run inside training reports and registry gates, not once a day.

Sharpe inference follows Bailey & López de Prado:

* PSR(SR*) = Φ( (SR − SR*) · √(n − 1) / √(1 − γ₃·SR + (γ₄ − 1)/4 · SR²) ), with SR the
  per-period Sharpe ratio, γ₃ the skewness and γ₄ the (non-excess) kurtosis of the returns.
  "PSR" below is PSR(0): the probability that the true Sharpe ratio is above zero.
* DSR = PSR(SR₀) where SR₀ is the expected maximum Sharpe of ``n_trials`` skill-less trials:
  SR₀ = √V · ((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))), γ the Euler–Mascheroni constant and
  V the variance of the trials' Sharpe ratios. When only N is known (the usual case: the tuning
  trials' returns are not kept) V is approximated by the variance of the Sharpe estimator under
  the null of zero true Sharpe, V ≈ 1 / (n − 1) (the skew/kurtosis terms vanish at SR = 0).
  Pass ``trial_sharpe_var`` (per-period Sharpe variance across trials) when it is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from candor.records.values import Record

EULER_GAMMA = 0.5772156649015329


class Metrics(Record):
    """Headline numbers of one return stream (strategy or benchmark), all on the same span.

    An undefined number is NaN here and ``null`` in JSON; :class:`candor.records.backtest.BacktestSummary`
    stores the table (``metrics``, ``benchmarks``) from :meth:`model_dump`.
    """

    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    calmar: float
    hit_rate: float
    n_trades: int
    turnover: float
    turnover_per_year: float
    exposure: float
    psr: float


class SharpeInference(Record):
    """Per-period Sharpe with the moments PSR/DSR need, and the deflation benchmark used."""

    sharpe_per_period: float
    skew: float
    kurtosis: float
    n: int
    n_trials: int
    trial_sharpe_var: float
    expected_max_sharpe: float
    psr: float
    dsr: float


@dataclass(frozen=True)
class Moments:
    mean: float
    std: float
    skew: float
    kurtosis: float
    n: int


def moments(mean: float, m2: float, m3: float, m4: float, n: int) -> Moments:
    """Sample std (ddof=1), skewness and non-excess kurtosis from population central moments."""
    if n < 2 or m2 <= 0.0:
        # No variation: skew and kurtosis are undefined, and so are PSR and DSR.
        return Moments(mean, 0.0 if n >= 2 else math.nan, math.nan, math.nan, n)
    return Moments(mean, math.sqrt(m2 * n / (n - 1)), m3 / m2**1.5, m4 / (m2 * m2), n)


def sharpe_ratio(mean: float, std: float) -> float:
    """Per-period Sharpe; 0 for a stream that never moves (always flat), not NaN."""
    if std > 0.0:
        return mean / std
    return 0.0 if mean == 0.0 else math.nan


def sharpe_variance_factor(sr: float, skew: float, kurtosis: float) -> float:
    """``(n − 1) · Var(SR̂)`` of a per-period Sharpe under non-normal returns: 1 − γ₃·SR + (γ₄ − 1)/4·SR²
    (the one formula behind the PSR/DSR and the Sharpe's confidence interval)."""
    return 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr


def psr(sr: float, sr_star: float, n: int, skew: float, kurtosis: float) -> float:
    """Probabilistic Sharpe Ratio: P(true per-period Sharpe > ``sr_star``)."""
    if n < 2 or not math.isfinite(sr) or not math.isfinite(skew):
        return math.nan
    var = sharpe_variance_factor(sr, skew, kurtosis)
    if var <= 0.0:
        return math.nan
    return float(ndtr((sr - sr_star) * math.sqrt(n - 1) / math.sqrt(var)))


def sharpe_interval(sharpe_per_period: float, skew: float, kurtosis: float, n: int,
                    periods_per_year: float, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """Annualised (low, high) interval of a Sharpe from n per-period returns (None when undefined;
    ``z`` 1.96: 95%)."""
    if n < 3 or not all(math.isfinite(v) for v in (sharpe_per_period, skew, kurtosis)):
        return None
    var = sharpe_variance_factor(sharpe_per_period, skew, kurtosis) / (n - 1)
    if not var > 0:
        return None
    scale = math.sqrt(periods_per_year)
    half = z * math.sqrt(var)
    return (float((sharpe_per_period - half) * scale), float((sharpe_per_period + half) * scale))


def expected_max_sharpe(n_trials: int, trial_sharpe_var: float) -> float:
    """Expected maximum of ``n_trials`` skill-less Sharpe estimates (False Strategy Theorem)."""
    if n_trials <= 1:
        return 0.0
    z1 = float(ndtri(1.0 - 1.0 / n_trials))
    z2 = float(ndtri(1.0 - 1.0 / (n_trials * math.e)))
    return math.sqrt(trial_sharpe_var) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def sharpe_inference(
    mom: Moments, rf_period: float, n_trials: int, trial_sharpe_var: float | None = None
) -> SharpeInference:
    """PSR against zero and DSR against the expected best of ``n_trials`` null trials."""
    sr = sharpe_ratio(mom.mean - rf_period, mom.std)
    var = trial_sharpe_var if trial_sharpe_var is not None else 1.0 / max(mom.n - 1, 1)
    sr0 = expected_max_sharpe(n_trials, var)
    return SharpeInference(
        sharpe_per_period=sr,
        skew=mom.skew,
        kurtosis=mom.kurtosis,
        n=mom.n,
        n_trials=n_trials,
        trial_sharpe_var=var,
        expected_max_sharpe=sr0,
        psr=psr(sr, 0.0, mom.n, mom.skew, mom.kurtosis),
        dsr=psr(sr, sr0, mom.n, mom.skew, mom.kurtosis),
    )


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Drawdown at every point (for plots), same convention as :func:`max_drawdown`."""
    peak = np.maximum.accumulate(equity)
    np.maximum(peak, 1.0, out=peak)
    return equity / peak - 1.0


def performance(
    stats: tuple[float, float, float, float, float, float],
    n: int,
    final: float,
    trade_returns: np.ndarray,
    turnover: float,
    exposure: float,
    ppy: float,
    rf_period: float,
) -> tuple[Metrics, Moments]:
    """Every headline metric of one return stream from its one-pass ``stream_stats``.

    ``stats`` = (mean, m2, m3, m4, downside mean square vs rf, max drawdown); the moments are
    returned too, for PSR/DSR.
    """
    mean, m2, m3, m4, down_sq, mdd = stats
    years = n / ppy
    cagr = final ** (1.0 / years) - 1.0 if final > 0 else -1.0
    mom = moments(mean, m2, m3, m4, n)
    excess = mean - rf_period
    down_dev = math.sqrt(down_sq)
    sortino = excess / down_dev * math.sqrt(ppy) if down_dev > 0 else (0.0 if excess == 0 else math.nan)
    sr = sharpe_ratio(excess, mom.std)
    return Metrics(
        total_return=final - 1.0,
        cagr=cagr,
        volatility=mom.std * math.sqrt(ppy),
        sharpe=sr * math.sqrt(ppy),
        sortino=sortino,
        max_drawdown=mdd,
        calmar=cagr / -mdd if mdd < 0 else math.nan,
        hit_rate=float((trade_returns > 0).mean()) if trade_returns.size else math.nan,
        n_trades=int(trade_returns.size),
        turnover=turnover,
        turnover_per_year=turnover / years,
        exposure=exposure,
        psr=psr(sr, 0.0, n, mom.skew, mom.kurtosis),
    ), mom
