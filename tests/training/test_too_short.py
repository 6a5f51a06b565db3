"""A series too short for its features says which group needs the history and what the rest need."""

from __future__ import annotations

import pytest

from candor.data.synthetic import planted_signal
from candor.errors import BarValidationError
from candor.features import FeatureSet, warmup_by_group
from candor.labels import LabelSpec
from candor.training.matrix import build_labelled_data


def test_a_short_minute_series_names_the_context_group_and_trains_without_it():
    bars = planted_signal(2400, seed=1, timeframe="m1")
    by_group = warmup_by_group(FeatureSet(), "m1", bars.attrs.get("calendar"))
    assert next(iter(by_group)) == "context" and by_group["context"] > len(bars)  # the daily context needs days of m1
    with pytest.raises(BarValidationError, match=r"rule 'min_rows'.*the 'context' group's warm-up is \d+ bars, the "
                                                 r"other groups need \d+ rows: .*without 'context'") as caught:
        build_labelled_data(bars, FeatureSet(), LabelSpec())
    assert "\n" not in str(caught.value)
    rest = tuple(g for g in by_group if g != "context")
    data = build_labelled_data(bars, FeatureSet(groups=rest), LabelSpec())  # the advice works
    assert data.n_samples > 0 and not any(c.startswith(("d1_", "w1_")) for c in data.X.columns)
