"""Saved models: every file hashed, tampering refused, predictions on the latest bars."""

from __future__ import annotations

import json

import pytest

from candor.registry.artifact import MANIFEST_FILE, MODEL_FILE, load_model, sha256_file
from candor.errors import ModelError, RegistryError


def test_artifact_records_hashes_spec_and_metrics(saved):
    outcome, _ = saved
    manifest = json.loads((outcome.artifact / MANIFEST_FILE).read_text())
    assert manifest["files"][MODEL_FILE] == sha256_file(outcome.artifact / MODEL_FILE)
    assert manifest["symbol"] == "PLANT" and manifest["timeframe"] == "d1"
    assert manifest["label_spec"]["horizon"] == 5 and manifest["feature_names"]
    assert manifest["report"]["oos"]["verdict"] == outcome.result.oos.verdict
    assert {"numpy", "scikit-learn"} <= set(manifest["packages"])
    assert manifest["data_fingerprint"] == outcome.result.fingerprint


def test_loaded_model_predicts_the_latest_bar_like_the_trained_one(saved):
    outcome, bars = saved
    model = load_model(outcome.artifact)
    forecast = model.predict(bars)[-1]
    assert forecast.bar_ts == bars.index[-1]
    assert forecast.direction in {"BEARISH", "NEUTRAL", "BULLISH"}
    assert sum(forecast.probabilities.values()) == pytest.approx(1.0)
    assert forecast.confidence == max(forecast.probabilities.values())
    direct = outcome.result.model.predict_proba(model.features(bars).iloc[[-1]])[0]
    assert forecast.confidence == pytest.approx(direct.max())


def test_modified_model_file_is_refused_before_unpickling(saved, tmp_path):
    import shutil

    outcome, _ = saved
    copy = tmp_path / "copy"
    shutil.copytree(outcome.artifact, copy)
    with open(copy / MODEL_FILE, "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(RegistryError, match="SHA-256 mismatch"):
        load_model(copy)


def test_manifest_pinned_by_registry_hash(saved):
    outcome, _ = saved
    with pytest.raises(RegistryError, match="modified after registration"):
        load_model(outcome.artifact, expected_manifest_sha256="0" * 64)


def test_changed_feature_list_is_refused(saved, tmp_path):
    import shutil

    outcome, bars = saved
    copy = tmp_path / "renamed"
    shutil.copytree(outcome.artifact, copy)
    model = load_model(copy)
    model.feature_names = [*model.feature_names[:-1], "feature_that_no_longer_exists"]
    with pytest.raises(ModelError, match="feature_that_no_longer_exists"):
        model.predict(bars)


def test_artifact_of_the_joblib_format_still_loads_hash_checked(saved, tmp_path):
    """Artifacts written before ``model.pkl.gz`` hold ``model.joblib``: still loaded, same forecasts."""
    import shutil

    import joblib

    from candor.registry.artifact import LEGACY_MODEL_FILE

    outcome, bars = saved
    legacy = tmp_path / "legacy"
    shutil.copytree(outcome.artifact, legacy)
    (legacy / MODEL_FILE).unlink()
    joblib.dump(load_model(outcome.artifact).estimator, legacy / LEGACY_MODEL_FILE, compress=3)
    manifest = json.loads((legacy / MANIFEST_FILE).read_text())
    manifest["files"] = {LEGACY_MODEL_FILE: sha256_file(legacy / LEGACY_MODEL_FILE)}
    (legacy / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert load_model(legacy).predict(bars)[-1] == load_model(outcome.artifact).predict(bars)[-1]
    with open(legacy / LEGACY_MODEL_FILE, "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(RegistryError, match="SHA-256 mismatch"):
        load_model(legacy)


@pytest.mark.parametrize("name", ["../model.pkl.gz", "/etc/hostname", "sub/model.pkl.gz", ".."])
def test_manifest_naming_a_file_outside_the_artifact_is_refused(saved, tmp_path, name):
    import shutil

    outcome, _ = saved
    copy = tmp_path / "outside"
    shutil.copytree(outcome.artifact, copy)
    manifest = json.loads((copy / MANIFEST_FILE).read_text())
    manifest["files"] = {name: "0" * 64}
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(RegistryError, match="not a file of the artifact directory"):
        load_model(copy)


def test_artifact_without_a_model_file_is_refused(saved, tmp_path):
    import shutil

    outcome, _ = saved
    copy = tmp_path / "empty"
    shutil.copytree(outcome.artifact, copy)
    manifest = json.loads((copy / MANIFEST_FILE).read_text())
    manifest["files"] = {}
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(RegistryError, match="records no model file"):
        load_model(copy)
