"""Evaluation: hand-checked metrics, the paired block bootstrap, the verdict's honesty."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from candor.errors import ConfigError
from candor.evaluate import (
    Verdict,
    block_bootstrap_means,
    calibration_table,
    evaluate_oos,
    lift_test,
    permutation_importance_oos,
    resolve_block_length,
)

CLASSES = np.array([-1, 0, 1])


def _onehotish(pred: np.ndarray, confidence: float = 0.6) -> np.ndarray:
    """Probabilities whose argmax is ``pred`` (rest split evenly)."""
    p = np.full((len(pred), 3), (1 - confidence) / 2)
    p[np.arange(len(pred)), np.searchsorted(CLASSES, pred)] = confidence
    return p


def test_hand_checked_metrics_on_a_tiny_case():
    y = np.array([1, 1, 0, -1])
    proba = np.array([[0.1, 0.2, 0.7], [0.5, 0.2, 0.3], [0.2, 0.6, 0.2], [0.6, 0.3, 0.1]])
    # predictions: 1, -1, 0, -1 → 3 of 4 correct
    r = evaluate_oos(y, proba, CLASSES, baseline_preds={"majority": np.ones(4, int), "zero": np.zeros(4, int)},
                     horizon=1, n_boot=200, train_accuracy=0.9)
    assert r.accuracy == pytest.approx(0.75)
    # recall per class: -1: 1/1, 0: 1/1, 1: 1/2 → macro 5/6
    assert r.balanced_accuracy == pytest.approx(5 / 6)
    assert r.recall_macro == pytest.approx(5 / 6)
    # precision per class: -1: 1/2, 0: 1, 1: 1 → macro 5/6; weighted (1·.5 + 1·1 + 2·1)/4
    assert r.precision_macro == pytest.approx(5 / 6)
    assert r.precision == pytest.approx(0.875)
    expected_ll = -np.mean(np.log([0.7, 0.3, 0.6, 0.6]))
    assert r.log_loss == pytest.approx(expected_ll)
    brier = np.mean([0.01 + 0.04 + 0.09, 0.25 + 0.04 + 0.49, 0.04 + 0.16 + 0.04, 0.16 + 0.09 + 0.01])
    assert r.brier == pytest.approx(brier)
    assert r.confusion_matrix == ((1, 0, 0), (0, 1, 0), (1, 0, 1))
    assert r.classes == (-1, 0, 1)
    assert r.baselines == {"majority": 0.5, "zero": 0.25}
    assert r.best_baseline == "majority" and r.best_baseline_accuracy == 0.5
    assert r.lift == pytest.approx(0.25)
    assert r.overfit_margin == pytest.approx(0.15)
    assert r.block_length == 1  # 4 rows: too few to measure dependence; never below horizon 1


def test_the_evaluation_is_its_stored_form():
    y = np.array([1, 0, -1, 1, 0, -1, 1, 1])
    r = evaluate_oos(y, _onehotish(y), CLASSES, baseline_preds={"majority": np.ones(8, np.int64)}, horizon=2,
                     n_boot=50)
    text = r.model_dump_json()
    d = json.loads(text)
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert type(r).model_validate_json(text) == r  # the stored form reads back as the live record
    assert d["verdict"] in {v.value for v in Verdict} and type(d["verdict"]) is str
    assert d["overfit_margin"] is None and d["classes"] == [-1, 0, 1]
    for key in ("accuracy", "balanced_accuracy", "f1", "log_loss", "baselines", "best_baseline", "lift",
                "lift_ci_low", "lift_ci_high", "p_value"):
        assert key in d


def test_block_length_is_measured_from_the_data_and_never_below_the_horizon():
    rng = np.random.default_rng(0)
    iid = rng.normal(size=1000)
    persistent = np.repeat(rng.normal(size=20), 50)  # 20 regimes of 50 rows
    assert resolve_block_length(iid, horizon=1) <= 4
    assert resolve_block_length(iid, horizon=20) == 20  # never below a label window
    assert 50 <= resolve_block_length(persistent, horizon=1) <= 250  # capped at n / 4
    assert resolve_block_length(iid, horizon=5, block=7) == 7
    assert resolve_block_length(np.zeros(1000), horizon=3) == 3  # constant: nothing to measure
    with pytest.raises(ConfigError, match=r"`block` must be >= horizon \(5\).*Got 3"):
        resolve_block_length(iid, horizon=5, block=3)
    y = np.zeros(200, int)
    with pytest.raises(ConfigError, match="`block` must be >= horizon"):
        evaluate_oos(y, _onehotish(y), CLASSES, baseline_preds={"m": y}, horizon=5, block=2)


def test_block_bootstrap_keeps_blocks_intact():
    # d = 0,1,2,...: a circular block of length L starting at s sums to a known consecutive run;
    # with L = n the only resample is a rotation → every mean equals the full mean.
    d = np.arange(12, dtype=float)
    np.testing.assert_allclose(block_bootstrap_means(d, 12, 50), d.mean())
    # L = 4 on a series constant within aligned blocks of 4 is not required to preserve means,
    # but the number of distinct values a resample mixes is governed by the block length:
    x = np.repeat([0.0, 1.0], 500)  # one switch: a long block rarely straddles it
    short = block_bootstrap_means(x, 1, 2000, random_state=1).std()
    long = block_bootstrap_means(x, 100, 2000, random_state=1).std()
    assert long > 3 * short  # long blocks see the dependence; iid resampling understates it


def test_block_bootstrap_is_fast():
    rng = np.random.default_rng(0)
    y = rng.choice(CLASSES, 5000)
    proba = rng.dirichlet(np.ones(3), 5000)
    started = time.perf_counter()
    evaluate_oos(y, proba, CLASSES, baseline_preds={"m": np.zeros(5000, int)}, horizon=5, n_boot=1000)
    assert time.perf_counter() - started < 0.5


def _correlated_correctness(rng: np.random.Generator, n: int, p: float, run: int) -> np.ndarray:
    """Bernoulli(p) correctness held constant over runs of ``run`` rows (overlapping labels)."""
    return np.repeat(rng.random(math.ceil(n / run)) < p, run)[:n]


def test_ci_covers_the_true_lift_on_simulated_cases():
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(60):
        model = _correlated_correctness(rng, 1200, 0.45, 5)
        base = _correlated_correctness(rng, 1200, 0.40, 5)
        test = lift_test(model, base, block=10, n_boot=400, alpha=0.05, random_state=int(rng.integers(1 << 31)))
        covered += test.ci_low <= 0.05 <= test.ci_high
    assert covered >= 52  # nominal 95% of 60 = 57; allow Monte Carlo slack


def test_clear_edge_is_significant():
    rng = np.random.default_rng(2)
    y = rng.choice(CLASSES, 1500, p=[0.3, 0.3, 0.4])
    pred = np.where(rng.random(1500) < 0.7, y, rng.choice(CLASSES, 1500))
    r = evaluate_oos(y, _onehotish(pred), CLASSES, baseline_preds={"majority": np.ones(1500, int)}, horizon=5)
    assert r.p_value < 0.01 and r.lift_ci_low > 0
    assert r.verdict is Verdict.SIGNIFICANT_EDGE and r.significant


def test_verdict_members_are_the_stored_words():
    """JSON reports, MLflow tags and the database hold these exact strings; they must not change."""
    assert [v.value for v in Verdict] == ["significant edge", "no significant edge",
                                          "significantly worse than the baseline"]
    assert json.dumps({"v": Verdict.NO_SIGNIFICANT_EDGE}) == '{"v": "no significant edge"}'
    assert str(Verdict.SIGNIFICANT_EDGE) == f"{Verdict.SIGNIFICANT_EDGE}" == "significant edge"
    assert Verdict("no significant edge") is Verdict.NO_SIGNIFICANT_EDGE


def test_random_predictions_are_significantly_worse_than_the_majority():
    """Guessing uniformly (≈ 33%) against a 40% majority class is a loss, and is called one."""
    rng = np.random.default_rng(4)
    y = rng.choice(CLASSES, 1500, p=[0.3, 0.3, 0.4])
    r = evaluate_oos(y, rng.dirichlet(np.ones(3), 1500), CLASSES,
                     baseline_preds={"majority": np.ones(1500, int)}, horizon=5)
    assert r.lift_ci_high < 0 and r.p_value < 0.05 and r.verdict is Verdict.SIGNIFICANTLY_WORSE
    assert not r.significant


def test_predictions_as_good_as_the_baseline_have_no_significant_edge():
    rng = np.random.default_rng(4)
    y = rng.choice(CLASSES, 1500, p=[0.3, 0.3, 0.4])
    pred = np.where(rng.random(1500) < 0.9, 1, rng.choice(CLASSES, 1500))  # mostly the majority class
    r = evaluate_oos(y, _onehotish(pred), CLASSES, baseline_preds={"majority": np.ones(1500, int)}, horizon=5)
    assert r.lift_ci_low <= 0 <= r.lift_ci_high and r.verdict is Verdict.NO_SIGNIFICANT_EDGE


def test_false_positive_rate_at_most_alpha_when_no_edge():
    """Model and baseline equally good (both independent of y, autocorrelated): ≤ ~alpha hits."""
    rng = np.random.default_rng(123)
    hits, pvals = 0, []
    for _ in range(50):
        n = 1000
        y = np.repeat(rng.choice(CLASSES, n // 5), 5)  # overlapping-label style runs
        model = np.repeat(rng.choice(CLASSES, n // 5), 5)
        base = np.repeat(rng.choice(CLASSES, n // 5), 5)
        r = evaluate_oos(y, _onehotish(model), CLASSES, baseline_preds={"stratified": base}, horizon=5,
                         n_boot=300, random_state=int(rng.integers(1 << 31)))
        hits += r.verdict == Verdict.SIGNIFICANT_EDGE
        pvals.append(r.p_value)
    assert hits <= 5  # expected 50 × 0.05 = 2.5; P(≥ 6 | 5%) ≈ 4%
    assert 0.3 < np.mean(pvals) < 0.7  # p-values roughly uniform under H0


def test_input_errors_name_the_parameter():
    y = np.array([1, 0])
    with pytest.raises(ConfigError, match=r"`proba` must have shape"):
        evaluate_oos(y, np.ones((2, 2)) / 2, CLASSES, baseline_preds={"m": y}, horizon=1)
    with pytest.raises(ConfigError, match="`baseline_preds` is empty"):
        evaluate_oos(y, _onehotish(y), CLASSES, baseline_preds={}, horizon=1)
    with pytest.raises(ConfigError, match="sum to 1"):
        evaluate_oos(y, np.ones((2, 3)), CLASSES, baseline_preds={"m": y}, horizon=1)
    with pytest.raises(ConfigError, match="baseline 'm' has 1 predictions for 2 rows"):
        evaluate_oos(y, _onehotish(y), CLASSES, baseline_preds={"m": y[:1]}, horizon=1)


def test_calibration_table_bins_top_class_confidence():
    y = np.array([1, 1, 0, -1])
    proba = np.array([[0.1, 0.2, 0.7], [0.5, 0.2, 0.3], [0.2, 0.6, 0.2], [0.05, 0.05, 0.9]])
    table = calibration_table(y, proba, CLASSES, n_bins=10)
    assert list(table.columns) == ["bin", "lower", "upper", "mean_confidence", "accuracy", "count"]
    assert table["count"].sum() == 4 and len(table) == 10
    row = table.set_index("bin")
    assert row.loc[4, "count"] == 1 and row.loc[4, "accuracy"] == 0.0  # 0.5 → bin (0.4, 0.5]
    assert row.loc[5, "count"] == 1 and row.loc[5, "accuracy"] == 1.0  # 0.6
    assert row.loc[6, "mean_confidence"] == pytest.approx(0.7)
    assert row.loc[8, "count"] == 1 and row.loc[8, "accuracy"] == 0.0  # 0.9 predicts 1, y = -1
    assert np.isnan(row.loc[0, "accuracy"])


def test_permutation_importance_finds_the_signal_feature():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(600, 4)), columns=["noise_a", "signal", "noise_b", "noise_c"])
    y = np.where(X["signal"] > 0.4, 1, np.where(X["signal"] < -0.4, -1, 0))
    model = LogisticRegression(max_iter=1000).fit(X.iloc[:400], y[:400])
    table = permutation_importance_oos(model, X.iloc[400:], y[400:], n_repeats=3, top=2)
    assert list(table.columns) == ["feature", "importance", "std"]
    assert len(table) == 2 and table.loc[0, "feature"] == "signal" and table.loc[0, "importance"] > 0.2


@pytest.mark.parametrize("batch_rows", [10**6, 500])  # one batch; a batch per column
def test_permutation_importance_equals_sklearns(batch_rows, monkeypatch):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.inspection import permutation_importance

    import candor.evaluate as evaluate

    monkeypatch.setattr(evaluate, "IMPORTANCE_BATCH_ROWS", batch_rows)
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(500, 5)), columns=list("abcde"))
    y = np.where(X["b"] + 0.5 * X["d"] > 0.3, 1, np.where(X["b"] < -0.3, -1, 0))
    model = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0).fit(X.iloc[:300], y[:300])
    ours = permutation_importance_oos(model, X.iloc[300:], y[300:], n_repeats=4, random_state=7, top=5)
    ref = permutation_importance(model, X.iloc[300:], y[300:], n_repeats=4, random_state=7, scoring="accuracy")
    expected = pd.DataFrame({"feature": list("abcde"), "importance": ref.importances_mean, "std": ref.importances_std})
    expected = expected.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, expected, check_exact=False, rtol=1e-12, atol=1e-12)


def test_blocks_shorter_than_the_horizon_would_overstate_significance():
    """Why block ≥ horizon: on run-length-5 correctness, iid resampling (block 1) finds
    'edges' far more often than alpha; blocks of the horizon keep the rate near alpha."""
    rng = np.random.default_rng(5)
    rates = {}
    for block in (1, 5):
        hits = 0
        for _ in range(150):
            y, m, b = (np.repeat(rng.choice(CLASSES, 200), 5) for _ in range(3))
            test = lift_test(m == y, b == y, block=block, n_boot=200, alpha=0.05,
                             random_state=int(rng.integers(1 << 31)))
            hits += test.verdict is Verdict.SIGNIFICANT_EDGE
        rates[block] = hits / 150
    assert rates[1] > 0.10 and rates[5] <= 0.09


def _d_with_t(t: float, n: int = 1000, seed: int = 0) -> np.ndarray:
    """iid rows whose mean is ``t`` naive standard errors from 0."""
    z = np.random.default_rng(seed).normal(size=n)
    z = (z - z.mean()) / z.std()
    return z + t / math.sqrt(n)


def test_the_p_value_states_its_monte_carlo_error():
    """Issue 22 item 17: the delta-method MC error agrees with the p-value's spread over seeds."""
    from candor.evaluate import paired_test

    d = _d_with_t(1.2)  # p ≈ 0.23: far from alpha, so exactly n_boot draws each time
    tests = [paired_test(d, horizon=1, n_boot=1000, alpha=0.05, random_state=s) for s in range(40)]
    assert {t.n_boot for t in tests} == {1000}
    spread = np.std([t.p_value for t in tests], ddof=1)
    stated = np.mean([t.p_value_mc_se for t in tests])
    assert 0.004 < stated < 0.02 and 0.6 < spread / stated < 1.6


def test_more_draws_where_the_verdict_is_near_its_boundary():
    from candor.evaluate import MAX_BOOT_FACTOR, MC_Z, paired_test

    near = paired_test(_d_with_t(1.97), horizon=1, n_boot=1000, alpha=0.05, random_state=0)
    assert near.n_boot > 1000
    assert abs(near.p_value - 0.05) >= MC_Z * near.p_value_mc_se or near.n_boot == MAX_BOOT_FACTOR * 1000
    capped = paired_test(_d_with_t(1.97), horizon=1, n_boot=1000, alpha=0.05, random_state=0, max_boot=1000)
    assert capped.n_boot == 1000 and capped.p_value_mc_se > near.p_value_mc_se  # fewer draws, more error
    far = paired_test(_d_with_t(6.0), horizon=1, n_boot=1000, alpha=0.05, random_state=0)
    assert far.n_boot == 1000 and far.p_value_mc_se < 1e-4
    # the first n_boot draws are the same stream as before: same seed, same p when nothing is near alpha
    assert paired_test(_d_with_t(1.2), horizon=1, n_boot=1000, alpha=0.05).se == pytest.approx(
        block_bootstrap_means(_d_with_t(1.2), resolve_block_length(_d_with_t(1.2), 1), 1000, 0).std(ddof=1))


def test_the_evaluation_record_and_the_cli_carry_the_monte_carlo_error():
    from candor.cli.render import _score_row
    from candor.records.evaluation import Evaluation

    rng = np.random.default_rng(2)
    y = rng.choice(CLASSES, 800)
    pred = np.where(rng.random(800) < 0.1, y, rng.choice(CLASSES, 800))
    r = evaluate_oos(y, _onehotish(pred), CLASSES, baseline_preds={"majority": rng.choice(CLASSES, 800)},
                     horizon=1, n_boot=500)
    assert r.p_value_mc_se is not None and 0 <= r.p_value_mc_se < 0.05 and r.n_boot >= 500
    assert Evaluation.model_validate_json(r.model_dump_json()) == r
    assert f"{r.p_value:.3f} ± {r.p_value_mc_se:.3f}" in _score_row("walk-forward", r)


def test_the_block_is_floored_by_the_persistence_of_labels_and_predictions():
    """Issue 22 item 13: a slow component too faint in d for Politis–White (iid labels 25/25/50,
    ~50-bar skill-less predictions) is plain in the predictions; evaluate_oos uses their floor."""
    from candor.evaluate import persistence_block

    rng = np.random.default_rng(1)
    y = rng.choice(CLASSES, 1500, p=[0.25, 0.25, 0.5])
    model, base = (np.repeat(rng.choice(CLASSES, 30), 50) for _ in range(2))
    own = lift_test(model == y, base == y, n_boot=200, alpha=0.05)
    floored = lift_test(model == y, base == y, n_boot=200, alpha=0.05, labels=[y, model, base])
    assert own.block_length < 30 and 50 <= floored.block_length == min(persistence_block([y, model, base]), 375)
    r = evaluate_oos(y, _onehotish(model), CLASSES, baseline_preds={"b": base}, horizon=1, n_boot=200)
    assert r.block_length == floored.block_length
    assert persistence_block([]) == 1 and persistence_block([rng.choice(CLASSES, 1500)]) <= 6
