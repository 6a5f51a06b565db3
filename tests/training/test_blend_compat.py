"""Champions saved before the Blend (candor b3ed54f: pickles of OutOfFoldEnsemble and TunedEnsemble)
still load and predict the probabilities they predicted then.

The fixtures were written by the previous code (a tiny planted-signal training: logreg + a 5-tree
forest with ridge weights, and a tuned logreg) with the features of five rows and the
probabilities that code predicted for them (``*.expected.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from candor.ensemble import OutOfFoldEnsemble
from candor.registry.artifact import load_model

FIXTURES = Path(__file__).parent / "fixtures" / "before_blend"


@pytest.mark.parametrize("name", ["ensemble", "tuned"])
def test_artifact_from_before_the_blend_predicts_the_same_probabilities(name):
    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text())
    model = load_model(FIXTURES / name)
    estimator = model.estimator
    assert f"{type(estimator).__module__}.{type(estimator).__name__}" == expected["estimator"]
    assert isinstance(estimator, OutOfFoldEnsemble)
    X = np.array(expected["features"])
    np.testing.assert_allclose(estimator.predict_proba(X), expected["proba"], rtol=0, atol=1e-12)
    frame = pd.DataFrame(X, columns=expected["columns"])
    np.testing.assert_allclose(estimator.predict_proba(frame), expected["proba"], rtol=0, atol=1e-12)
    assert [int(c) for c in estimator.classes_] == expected["classes"]
    assert estimator.weights_ == expected["weights"] and estimator.prior_weight_ == expected["prior_weight"]
    assert estimator.blend_.weights_ == expected["weights"]  # the stored weights became its Blend


def test_weekly_refit_of_an_old_champion_serves_its_members_with_a_refit_blend():
    from candor.ensemble import BlendedEnsemble
    from candor.ops.weights import refit_weights

    expected = json.loads((FIXTURES / "ensemble.expected.json").read_text())
    old = load_model(FIXTURES / "ensemble").estimator
    X = pd.DataFrame(np.repeat(np.array(expected["features"]), 6, axis=0), columns=expected["columns"])
    y = np.tile(expected["classes"], len(X) // len(expected["classes"]) + 1)[:len(X)]
    updated, weights = refit_weights(old, X, y)
    assert isinstance(updated, BlendedEnsemble) and set(weights) == set(expected["weights"])
    assert updated.members_ == old.members_ and updated.prior_weight_ == old.prior_weight_
    assert sum(weights.values()) == pytest.approx(1.0)
    np.testing.assert_allclose(updated.predict_proba(X).sum(axis=1), 1.0)
