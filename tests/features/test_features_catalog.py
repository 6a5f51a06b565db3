"""Catalog: count, names, scale-freeness, finiteness after warm-up, time features, validation."""

from __future__ import annotations

import numpy as np
import pytest

from candor.data.synthetic import random_walk
from candor.errors import ConfigError
from candor.features import (
    ALL_GROUPS,
    FeatureSet,
    compute_features,
    describe_features,
    feature_specs,
    parse_feature_set,
    warmup_bars,
)
from candor.features.indicators import settle, wilder

PRICES = ["open", "high", "low", "close"]


@pytest.mark.parametrize("timeframe", ["h1", "d1", "w1"])
def test_at_least_sixty_uniquely_named_float_features(timeframe):
    specs = feature_specs(FeatureSet(), timeframe)
    names = [s.name for s in specs]
    assert len(names) >= 60 and len(set(names)) == len(names)
    assert {s.group for s in specs} <= set(ALL_GROUPS)


def test_same_index_and_float64(walk_h1):
    feats = compute_features(walk_h1)
    assert feats.index.equals(walk_h1.index)
    assert (feats.dtypes == "float64").all()


def test_no_bars_give_an_empty_frame_with_every_column(walk_h1):
    frame = compute_features(walk_h1.iloc[:0])
    assert frame.shape == (0, compute_features(walk_h1.iloc[:300]).shape[1])
    assert list(frame.columns) == list(compute_features(walk_h1.iloc[:300]).columns)
    assert frame.attrs["timeframe"] == "h1"


def test_scale_invariance_prices_and_volume(walk_h1):
    """No raw levels: x10 prices or x10 volume leaves every column unchanged."""
    base = compute_features(walk_h1).to_numpy()
    for columns in (PRICES, ["volume"]):
        scaled = walk_h1.copy()
        scaled[columns] *= 10.0
        scaled.attrs.update(walk_h1.attrs)
        np.testing.assert_allclose(compute_features(scaled).to_numpy(), base, rtol=1e-6, atol=1e-9,
                                   equal_nan=True, err_msg=f"not invariant to scaling {columns}")


@pytest.mark.parametrize("name", ["walk_h1", "sp500", "aapl_h1"])
def test_finite_after_declared_warmup_and_no_inf(name, request):
    bars = request.getfixturevalue(name)
    feats = compute_features(bars)
    assert not np.isinf(feats.to_numpy()).any()
    for spec in feature_specs(FeatureSet(), bars.attrs["timeframe"], bars.attrs["calendar"]):
        tail = feats[spec.name].to_numpy()[spec.warmup:]
        assert np.isfinite(tail).all(), f"{spec.name} has NaN after its warm-up of {spec.warmup}"


def test_declared_warmup_is_exact_for_non_context_columns(walk_h1):
    feats = compute_features(walk_h1)
    for spec in feature_specs(FeatureSet(), "h1", "24/7"):
        first = int(np.argmax(feats[spec.name].notna().to_numpy()))
        if spec.group == "context":
            assert first <= spec.warmup, spec.name
        else:
            assert first == spec.warmup, spec.name


def test_zero_volume_bars_stay_finite():
    bars = random_walk(800, seed=5, timeframe="h1")
    bars.loc[bars.index[300:420], "volume"] = 0.0
    feats = compute_features(bars)
    after = feats.iloc[warmup_bars(FeatureSet(), "h1", "24/7"):].to_numpy()
    assert np.isfinite(after).all()


def test_time_features_only_where_meaningful():
    cols = {tf: {s.name for s in feature_specs(FeatureSet(groups=("time",)), tf)} for tf in ("h1", "d1", "w1")}
    assert cols["h1"] == {"hour_sin", "hour_cos", "dow_sin", "dow_cos"}
    assert cols["d1"] == {"dow_sin", "dow_cos", "month_sin", "month_cos"}
    assert cols["w1"] == {"month_sin", "month_cos"}


def test_auto_context_per_timeframe():
    names = lambda tf: {s.name for s in feature_specs(FeatureSet(groups=("context",)), tf)}  # noqa: E731
    assert "d1_rsi_sma_14" in names("m5") and "w1_rsi_sma_14" in names("d1") and names("w1") == set()


def test_warmup_bars_counts_context_in_fine_bars():
    fs = FeatureSet()
    # Wilder's ATR 50 (first output at bar 50) until its seed settles; no context for weekly bars.
    assert warmup_bars(fs, "w1") == 50 + settle(wilder(50)) == 392
    assert warmup_bars(fs, "h1", "XNYS") == 392  # the daily context's (27 + 2) * 7 - 1 = 202 is shorter
    assert warmup_bars(fs, "h1", "24/7") == (27 + 2) * 24 - 1
    assert warmup_bars(FeatureSet(groups=("returns",), short=5, medium=10, long=20), "d1") == 19


def test_describe_features_reports_nan_share(sp500):
    infos = describe_features(sp500)
    by_name = {i.name: i for i in infos}
    assert by_name["close_sma_200_ratio"].warmup == 199
    assert by_name["close_sma_200_ratio"].nan_share == pytest.approx(199 / len(sp500))
    assert by_name["w1_rsi_sma_14"].group == "context"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"groups": ("returns", "astrology")}, r"`groups` must be .*astrology"),
    ({"groups": ()}, r"`groups` must be a non-empty"),
    ({"short": 50, "medium": 14}, r"`periods` .* short < medium < long.*Got \(50, 14, 200\)"),
    ({"short": 2}, r"4 <= short"),
    ({"context_timeframes": ("d2",)}, r"`context_timeframes` entries must be one of .*'d2'"),
])
def test_feature_set_rejects_bad_specs(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        FeatureSet(**kwargs)


def test_context_must_be_coarser_than_bars(walk_h1):
    with pytest.raises(ConfigError, match=r"`context_timeframes` must be coarser .*\(h1\).*Got 'm15'"):
        compute_features(walk_h1, FeatureSet(context_timeframes=("m15",)))


def test_parse_feature_set_from_command_line_strings():
    fs = parse_feature_set("returns, momentum", "10,30,100")
    assert fs.groups == ("returns", "momentum") and (fs.short, fs.medium, fs.long) == (10, 30, 100)
    with pytest.raises(ConfigError, match=r"`periods` must be three integers .*Got '14,50'"):
        parse_feature_set(None, "14,50")
