"""One evaluation of out-of-sample predictions, as computed and as stored: the same record.

:func:`candor.evaluate.evaluate_oos` builds it; the training report holds two (``oos``: the pooled
walk-forward rows; ``holdout``: the final slice); the gates, the registry tags, the CLI and the
dashboard read it back from JSON. Every number may be missing in a stored report (it reads as
``None``, see :mod:`candor.records.values`).
"""

from __future__ import annotations

from candor.records.values import Count, Ints, IntRows, Num, NumberMap, Record, Text
from candor.records.verdict import StoredVerdict, Verdict


class Evaluation(Record):
    """The model's scores beside its baselines, the block-bootstrap CI and p-value of the lift over
    the best baseline, the verdict, and the probabilistic skill over the class prior (gain = prior
    loss − model loss, > 0 is better). Field names are the JSON keys."""

    accuracy: Num = None
    balanced_accuracy: Num = None
    f1: Num = None
    log_loss: Num = None
    baselines: NumberMap = {}
    best_baseline: Text = None
    best_baseline_accuracy: Num = None
    lift: Num = None
    lift_ci_low: Num = None
    lift_ci_high: Num = None
    p_value: Num = None
    p_value_mc_se: Num = None  # Monte-Carlo standard error of p_value (bootstrap draws: n_boot)
    verdict: StoredVerdict = None
    n: Count = None
    classes: Ints = ()
    precision: Num = None
    recall: Num = None
    precision_macro: Num = None
    recall_macro: Num = None
    f1_macro: Num = None
    brier: Num = None
    confusion_matrix: IntRows = ()
    alpha: Num = None
    block_length: Count = None
    n_boot: Count = None  # bootstrap draws behind p_value (more than configured near the verdict's boundary)
    horizon: Count = None
    train_accuracy: Num = None
    overfit_margin: Num = None
    lift_se: Num = None
    lift_df: Count = None
    # Power beside the verdict (candor.evaluate.detectable_lift): the smallest true lift this test
    # detects with probability mde_power at alpha, and the further bars that would detect +2 points.
    mde: Num = None
    mde_power: Num = None
    bars_for_2pt: Count = None
    prior_log_loss: Num = None
    log_loss_gain: Num = None
    log_loss_gain_ci_low: Num = None
    log_loss_gain_ci_high: Num = None
    log_loss_p_value: Num = None
    log_loss_verdict: StoredVerdict = None
    prior_brier: Num = None
    brier_gain: Num = None
    brier_gain_ci_low: Num = None
    brier_gain_ci_high: Num = None
    brier_p_value: Num = None
    brier_verdict: StoredVerdict = None

    def power_text(self) -> str:
        """What the test could see, in words: "none larger than 3.1 points at 80% power; 4,210 more
        bars would detect +2 points" beside "no significant edge" (the verdict is not proof of
        nothing), "this test detects 1.2 points at 80% power" otherwise; "" when not computed."""
        if self.mde is None:
            return ""
        level = f"{self.mde_power or 0.8:.0%}"
        if self.verdict != Verdict.NO_SIGNIFICANT_EDGE:
            return f"this test detects {100 * self.mde:.1f} points at {level} power"
        more = ("" if self.bars_for_2pt is None else
                "; these rows already detect +2 points" if self.bars_for_2pt == 0 else
                f"; {self.bars_for_2pt:,} more bars would detect +2 points")
        return f"none larger than {100 * self.mde:.1f} points at {level} power{more}"

    @property
    def significant(self) -> bool:
        """True when the verdict is :attr:`Verdict.SIGNIFICANT_EDGE`."""
        return self.verdict == Verdict.SIGNIFICANT_EDGE
