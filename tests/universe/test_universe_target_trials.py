"""A universe's correction counts the trial ledger's trials for each target (issue 23 item 1): a
series is the best of every configuration tried on its target, so its p-value is Šidák-adjusted
for that count (the ``n_trials`` its Deflated Sharpe counts) before Benjamini–Hochberg across
the series. Rows only: no training."""

from __future__ import annotations

import pytest

from candor.application.universe import UniverseRow, judge_together
from candor.config import load_config


def _row(name: str, p: float, n_trials: int | None) -> UniverseRow:
    return UniverseRow(name, name, "d1", "trained", lift=0.03, p_value=p, n_trials=n_trials)


@pytest.mark.parametrize("correction, expected", [
    # per target 0.01, 1 - 0.99^40 = 0.331, 0.01; BH over 3 series: 0.01 * 3/2 for the two, 0.331 * 3/3
    ("bh", [0.015, 1 - 0.99 ** 40, 0.015]),
    ("none", [0.01, 0.01, 0.01]),  # no correction at all
])
def test_each_series_p_counts_its_targets_trials_before_the_correction_across_series(correction, expected):
    config = load_config(None, {"universe": {"correction": correction}}, environ={})
    rows = judge_together([_row("A", 0.01, 1), _row("B", 0.01, 40), _row("C", 0.01, None)], config)
    assert [r.adjusted_p_value for r in rows] == pytest.approx(expected)
    assert all(r.adjusted_p_value >= r.p_value for r in rows)
    if correction == "bh":  # the one tried 40 times on its target loses its edge; the others keep it
        assert [r.adjusted_verdict for r in rows] == ["significant edge", "no significant edge", "significant edge"]
