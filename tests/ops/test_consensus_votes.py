"""Consensus counts one vote per timeframe and says how it was formed (issue 25 item 4)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest

from candor.ops.consensus import consensus
from candor.registry.artifact import Forecast


def _fc(tf, horizon, direction, confidence=0.6):
    probs = {"BEARISH": 0.0, "NEUTRAL": 0.0, "BULLISH": 0.0, direction: confidence}
    return Forecast("S", tf, horizon, pd.Timestamp("2024-01-02", tz="UTC"), direction, probs, confidence)


def test_horizons_of_one_timeframe_share_one_vote():
    # d1 h1 and d1 h5 BULLISH, h1 BEARISH: two horizons used to outvote the other timeframe 2:1
    agreed = consensus([_fc("d1", 1, "BULLISH"), _fc("d1", 5, "BULLISH"), _fc("h1", 5, "BEARISH")])
    assert agreed.timeframes == 2 and len(agreed.votes) == 3
    bull = sum(v.weight for v in agreed.votes if v.direction == "BULLISH")
    bear = sum(v.weight for v in agreed.votes if v.direction == "BEARISH")
    assert bull == pytest.approx(bear) and agreed.direction == "NEUTRAL"  # one vote each: a tie, not 2:1
    assert agreed.method == "one vote per timeframe, shared by its horizons, weighted by confidence: d1 (h1+h5), h1 (h5)"


def test_one_timeframe_says_there_is_no_agreement_across_timeframes():
    agreed = consensus([_fc("d1", 1, "BULLISH"), _fc("d1", 5, "BULLISH")], {"d1": 2.0})
    assert agreed.timeframes == 1 and agreed.direction == "BULLISH"
    assert "only d1 (h1+h5, weight 2) voted: no agreement across timeframes" in agreed.method
    assert sum(v.weight for v in agreed.votes) == pytest.approx(2.0 * 0.6)  # one timeframe's weight in all


def test_the_overview_says_how_the_vote_was_formed():
    from candor.api.queries import consensus_basis

    t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    one = [SimpleNamespace(timeframe="d1", direction="BULLISH", bar_ts=t)]
    assert consensus_basis(one) == "only d1 voted: no agreement across timeframes"
    two = one + [SimpleNamespace(timeframe="h1", direction="BEARISH", bar_ts=t)]
    assert consensus_basis(two) == "one vote per timeframe (d1, h1)"
