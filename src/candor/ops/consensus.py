"""Cross-timeframe consensus: one weighted vote per timeframe of a symbol.

Why a vote and not an average of probabilities: the forecasts being combined answer different
questions (5 daily bars vs 5 hourly bars ahead), so their probabilities are not on one scale;
each forecast instead casts its direction with weight ``timeframe weight × confidence``.

Why one vote per *timeframe*: horizons 1 and 5 of the same series are fit on the same bars and
features, so they agree for that reason alone; counted as two votes they made one series read as
"100% agree". Each timeframe therefore casts one vote, shared equally by its horizons (a forecast's
weight is ``timeframe weight × confidence / horizons of its timeframe``). The ``agreement`` is the
winning direction's share of all weight (1.0 = unanimous), ``score`` the weighted mean of
P(BULLISH) − P(BEARISH) in [−1, 1], and ``method`` says in words how the vote was formed — with one
timeframe there is no agreement across timeframes to speak of, and it says so.
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
    timeframes: int = 1  # how many timeframes voted (one vote each)
    method: str = ""  # how the vote was formed, in words (:func:`vote_method`)


def vote_method(horizons: Mapping[str, Sequence[int]], weights: Mapping[str, float] | None = None) -> str:
    """How the vote over ``horizons`` (timeframe → its horizons) was formed, as one sentence."""
    parts = []
    for timeframe, hs in horizons.items():
        own = "+".join(f"h{h}" for h in sorted(hs))
        weight = (weights or {}).get(timeframe, 1.0)
        parts.append(f"{timeframe} ({own}{'' if weight == 1.0 else f', weight {weight:g}'})")
    shared = any(len(hs) > 1 for hs in horizons.values())
    how = "one vote per timeframe" + (", shared by its horizons" if shared else "") + ", weighted by confidence"
    if len(horizons) == 1:
        return f"{how}; only {parts[0]} voted: no agreement across timeframes"
    return f"{how}: {', '.join(parts)}"


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
    horizons: dict[str, list[int]] = {}
    for f in forecasts:
        horizons.setdefault(f.timeframe, []).append(f.horizon)
    share = {tf: weights.get(tf, 1.0) / len(hs) for tf, hs in horizons.items()}  # one vote per timeframe
    votes = tuple(Vote(f.timeframe, f.horizon, f.direction, share[f.timeframe] * f.confidence) for f in forecasts)
    tally = {d: sum(v.weight for v in votes if v.direction == d) for d in DIRECTIONS}
    total = sum(tally.values())
    best = max(tally.values())
    leaders = [d for d, w in tally.items() if w == best]
    direction = leaders[0] if len(leaders) == 1 and total > 0 else "NEUTRAL"
    signed = sum(share[f.timeframe] * (f.probabilities.get("BULLISH", 0.0) - f.probabilities.get("BEARISH", 0.0))
                 for f in forecasts)
    weight_sum = sum(share[f.timeframe] for f in forecasts)  # = the timeframes' weights
    return Consensus(
        symbol=forecasts[0].symbol, direction=direction,
        agreement=float(tally[direction] / total) if total > 0 else 0.0,
        score=float(signed / weight_sum) if weight_sum > 0 else 0.0, votes=votes,
        timeframes=len(horizons), method=vote_method(horizons, weights),
    )
