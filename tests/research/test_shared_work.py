"""The research speed-ups change how much is computed, never what: members that share their
preprocessing get exactly the probabilities their own pipelines would give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone


@pytest.fixture(scope="module")
def matrix():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 8)), columns=[f"f{i}" for i in range(8)])
    X["f7"] = X["f0"] * 0.99 + rng.normal(scale=0.01, size=400)  # the pruner drops one of them
    y = np.where(X["f1"] + rng.normal(size=400) > 0, 1, -1)
    return X, y


def test_members_sharing_preprocessing_equal_their_own_pipelines(matrix):
    from candor.models import make_model
    from candor.training.stacking import fit_members

    X, y = matrix
    members = {"logreg": make_model("logreg", random_state=3), "gb": make_model("gb", random_state=3),
               "raw": make_model("logreg", random_state=3, prune_threshold=None)}  # its own prefix
    train, test = np.arange(300), np.arange(310, 400)
    done = fit_members(members, X, y, None, np.array([-1, 1]), 0, train, test)
    for name, template in members.items():
        own = clone(template).fit(X.iloc[train], y[train])
        assert np.array_equal(done.test_proba[name], own.predict_proba(X.iloc[test])), name
        assert np.array_equal(done.train_proba[name], own.predict_proba(X.iloc[train])), name
    assert not np.array_equal(done.test_proba["logreg"], done.test_proba["raw"])  # the prefixes did differ
