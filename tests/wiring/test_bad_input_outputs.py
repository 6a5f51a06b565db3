"""Issue 22, items 2, 3, 6, 9 and 10: an unreachable or password-bearing tracking server, a study
storage with a password, outputs that cannot be written and damaged local artifacts — each one
line, the right exit code, no traceback, no secret, and (where the refusal comes first) ``<home>``
as it was."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import re
import shutil
import time

import pytest

from candor.cli import main
from tests.wiring.homes import snapshot
from tests.wiring.test_bad_input_corpus import _one_line, _refused_in_one_line

SECRET = "SECRET"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small untracked training (logreg, 700 planted bars): its artifact and bars as CSV."""
    from candor.application.train import run_training
    from candor.config import load_config
    from candor.data.synthetic import planted_signal

    root = tmp_path_factory.mktemp("trained")
    config = load_config(environ={}, overrides={"home": str(root / "home"), "models": {"models": ["logreg"]},
                                                "split": {"folds": 3},
                                                "evaluation": {"importance_repeats": 0, "n_boot": 100}})
    bars = planted_signal(700, seed=2)
    outcome = run_training(bars, config, out=root / "models", track=False)
    bars.to_csv(root / "bars.csv")
    return outcome.artifact, root / "bars.csv"


def _backtest(artifact, csv, *extra: str) -> list[str]:
    return ["backtest", "--model", str(artifact), "--data", str(csv), "--symbol", "PLANT", "--timeframe", "d1",
            "--calendar", "24/7", *extra]


# ------------------------------------------------------------------ item 10: damaged local artifacts
def _rehashed(model: bytes):
    def damage(folder):
        (folder / "model.pkl.gz").write_bytes(model)
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["files"]["model.pkl.gz"] = hashlib.sha256(model).hexdigest()
        (folder / "manifest.json").write_text(json.dumps(manifest))
        return "model.pkl.gz"
    return damage


def _truncated_gzip(folder):
    data = (folder / "model.pkl.gz").read_bytes()
    return _rehashed(data[: len(data) // 2])(folder)


def _manifest_text(text: str):
    def damage(folder):
        (folder / "manifest.json").write_text(text)
        return "manifest.json"
    return damage


def _label_spec_null(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["label_spec"] = None
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return "manifest.json"


#: name → (damage(folder) → the file the line must name, a pattern the line must contain)
DAMAGE = {
    "random bytes, rehashed": (_rehashed(os.urandom(2048)), r"cannot be loaded \(BadGzipFile"),
    "random bytes gzipped, rehashed": (_rehashed(gzip.compress(os.urandom(2048))), r"cannot be loaded \(Unpickling"),
    "a pickled dict": (_rehashed(gzip.compress(pickle.dumps({"weights": [1, 2]}))), r"holds a dict, not a fitted"),
    "truncated gzip": (_truncated_gzip, r"cannot be loaded \(EOFError"),
    "100,000-deep JSON list": (_manifest_text("[" * 100_000 + "]" * 100_000), r"not valid JSON"),
    "100,000-deep JSON object": (_manifest_text('{"a":' * 100_000 + "1" + "}" * 100_000), r"not valid JSON"),
    "label_spec null": (_label_spec_null, r"malformed \(label_spec"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_artifact_is_one_line_naming_its_file(case, trained, tmp_path, monkeypatch, capsys):
    artifact, csv = trained
    damage, pattern = DAMAGE[case]
    folder = tmp_path / "artifact"
    shutil.copytree(artifact, folder)
    name = damage(folder)
    monkeypatch.setenv("CANDOR_HOME", str(tmp_path / "home"))
    code = main(_backtest(folder, csv))
    out, err = capsys.readouterr()
    line = _one_line(err, out)
    assert code == 1, err
    assert str(folder / name) in line and "aborted" not in line
    assert re.search(pattern, line), line
