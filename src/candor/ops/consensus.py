"""Cross-timeframe (and cross-horizon) consensus: one weighted vote per symbol.

Why a vote and not an average of probabilities: the forecasts being combined answer different
questions (5 daily bars vs 5 hourly bars ahead), so their probabilities are not on one scale;
each forecast instead casts its direction with weight ``timeframe weight × confidence``. The
``agreement`` is the winning direction's share of all weight (1.0 = unanimous), and ``score`` is
the weighted mean of P(BULLISH) − P(BEARISH) in [−1, 1] for a quick signed summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from candor.registry.artifact import Forecast
from candor.errors import ConfigError
from candor.labels import CLASS_NAMES

DIRECTIONS = tuple(CLASS_NAMES[c] for c in sorted(CLASS_NAMES))  # BEARISH, NEUTRAL, BULLISH


@dataclass(frozen=True)
class Vote:
    timeframe: str
    horizon: int
    direction: str
    weight: float


@dataclass(frozen=True)
class Consensus:
    """The symbol's agreed direction, how much of the weight agrees, and the signed score."""

    symbol: str
    direction: str
    agreement: float
    score: float
    votes: tuple[Vote, ...]


def consensus(forecasts: Sequence[Forecast], weights: Mapping[str, float] | None = None) -> Consensus:
    """Weighted vote over one symbol's forecasts; ties (or no weight) give NEUTRAL.

    ``weights`` maps timeframe → weight (missing timeframes weigh 1); negative weights are refused.
    """
    if not forecasts:
        raise ConfigError("`forecasts` must hold at least one forecast to vote on. Got none.")
    symbols = {f.symbol for f in forecasts}
    if len(symbols) > 1:
        raise ConfigError(f"`forecasts` must all be for one symbol. Got {sorted(symbols)}.")
    weights = dict(weights or {})
    bad = {tf: w for tf, w in weights.items() if not w >= 0}
    if bad:
        raise ConfigError(f"`consensus_weights` must be >= 0. Got {bad}.")
    votes = tuple(Vote(f.timeframe, f.horizon, f.direction, weights.get(f.timeframe, 1.0) * f.confidence)
                  for f in forecasts)
    tally = {d: sum(v.weight for v in votes if v.direction == d) for d in DIRECTIONS}
    total = sum(tally.values())
    best = max(tally.values())
    leaders = [d for d, w in tally.items() if w == best]
    direction = leaders[0] if len(leaders) == 1 and total > 0 else "NEUTRAL"
    signed = sum(weights.get(f.timeframe, 1.0) * (f.probabilities.get("BULLISH", 0.0) - f.probabilities.get("BEARISH", 0.0))
                 for f in forecasts)
    weight_sum = sum(weights.get(f.timeframe, 1.0) for f in forecasts)
    return Consensus(
        symbol=forecasts[0].symbol, direction=direction,
        agreement=float(tally[direction] / total) if total > 0 else 0.0,
        score=float(signed / weight_sum) if weight_sum > 0 else 0.0, votes=votes,
    )
