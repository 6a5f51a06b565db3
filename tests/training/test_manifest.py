"""The typed manifest: one record per training, written once, read back equal, versions checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from candor.errors import RegistryError
from candor.registry.artifact import MANIFEST_FILE, verify_artifact
from candor.records.manifest import FORMAT_VERSION, Manifest, parse_manifest
from candor.records.report import TrainingReport, parse_report
from candor.registry.artifact import load_model
from candor.registry.tracking import training_run_fields, write_run_files
from candor.split import holdout_split
from candor.training.manifest import build_manifest
from candor.training.matrix import build_labelled_data

FIXTURES = Path(__file__).parent / "fixtures"


def _strict_json(text: str) -> dict:
    """JSON as every other parser reads it: NaN / Infinity are refused."""
    def refuse(token: str) -> None:
        raise ValueError(f"non-JSON constant {token}")

    return json.loads(text, parse_constant=refuse)


def test_saved_manifest_round_trips_equal(saved):
    outcome, _ = saved
    text = (outcome.artifact / MANIFEST_FILE).read_text()
    manifest = verify_artifact(outcome.artifact)
    assert isinstance(manifest, Manifest) and isinstance(manifest.report, TrainingReport)
    assert parse_manifest(manifest.model_dump_json()) == manifest
    assert manifest.model_dump(mode="json") == _strict_json(text)  # the file is exactly the record's JSON, NaN-free
    built = build_manifest(outcome.result)
    assert parse_manifest(built.model_dump_json()) == built


def test_every_serialisation_is_the_one_report(saved, tmp_path):
    """report.json, the training_runs row, --output-json's base and the manifest hold the same report."""
    outcome, _ = saved
    result = outcome.result
    assert result.report is result.report  # built once, then shared
    manifest = verify_artifact(outcome.artifact)
    assert manifest.report == result.report
    write_run_files(manifest, result.backtest, tmp_path)
    stored = result.report.model_dump(mode="json")
    assert _strict_json((tmp_path / "report" / "report.json").read_text()) == stored
    assert training_run_fields(manifest, "run", None, None)["report"] == stored
    assert (tmp_path / "plots" / "equity_drawdown.png").stat().st_size > 0


def test_report_keeps_the_promised_json_shape(saved):
    report = saved[0].result.report.model_dump(mode="json")
    assert {"symbol", "timeframe", "n_samples", "label", "horizon", "folds", "fold_details", "models", "weights",
            "oos", "holdout", "backtest", "feature_importance", "calibration", "timings"} <= set(report)
    assert report["folds"] == len(report["fold_details"]) == 3
    assert {"accuracy", "f1", "baselines", "best_baseline", "lift", "lift_ci_low", "lift_ci_high", "p_value",
            "verdict"} <= set(report["oos"])
    assert {"sharpe", "n_trades", "deflated_sharpe", "equity_curve"} <= set(report["backtest"])


def test_data_span_is_the_bars_the_training_used(saved):
    outcome, bars = saved
    span = verify_artifact(outcome.artifact).data_span
    config = outcome.result.config
    data = build_labelled_data(bars, config.features, config.labels)
    dev, hold = holdout_split(data.y.index, data.t1, config.split.holdout, purge=config.purge)
    assert (span.first_bar, span.last_bar) == (bars.index[0], bars.index[-1])
    assert (span.dev_start, span.dev_end, span.dev_rows) == (data.y.index[dev[0]], data.y.index[dev[-1]], len(dev))
    holdout = outcome.result.holdout_proba.index
    assert (span.holdout_start, span.holdout_end, span.holdout_rows) == (holdout[0], holdout[-1], len(holdout))
    assert span.dev_end < span.holdout_start and str(span.first_bar.tz) == "UTC"
    written = _strict_json((outcome.artifact / MANIFEST_FILE).read_text())["data_span"]
    assert written["first_bar"] == bars.index[0].isoformat() and written["holdout_rows"] == len(holdout)


def test_unknown_future_format_is_refused_with_the_fix(saved):
    document = verify_artifact(saved[0].artifact).model_dump(mode="json")
    newer = FORMAT_VERSION + 1
    with pytest.raises(RegistryError, match=rf"format_version {newer}, newer than this candor .* reads "
                                            rf"\(1 to {FORMAT_VERSION}\); upgrade candor .* or retrain"):
        parse_manifest(json.dumps({**document, "format_version": newer}))
    with pytest.raises(RegistryError, match=r"`format_version` must be a whole number >= 1. Got 'two'"):
        parse_manifest(json.dumps({**document, "format_version": "two"}))


def test_format_1_and_unversioned_manifests_are_read_without_a_span(saved):
    document = verify_artifact(saved[0].artifact).model_dump(mode="json")
    for old in ({**document, "format_version": 1}, {k: v for k, v in document.items() if k != "format_version"}):
        manifest = parse_manifest(json.dumps(old))
        assert manifest.data_span is None and manifest.report.oos == saved[0].result.report.oos
        assert manifest.format_version == FORMAT_VERSION  # upgraded on read: written back as the current format


@pytest.mark.parametrize("name", ["manifest_v1.json", "manifest_v2.json"])
def test_manifests_written_by_earlier_candor_still_load(name):
    """Files written by candor before the records were pydantic models (v2: the dataclass/orjson
    era, v1: its unversioned predecessor): every field reads, the report's numbers included."""
    text = (FIXTURES / name).read_text()
    document = json.loads(text)
    manifest = parse_manifest(text)
    assert manifest.symbol == document["symbol"] and manifest.feature_names == tuple(document["feature_names"])
    assert manifest.label_spec.horizon == document["label_spec"]["horizon"]
    assert manifest.report.oos.accuracy == document["report"]["oos"]["accuracy"]
    assert manifest.report.oos.verdict == document["report"]["oos"]["verdict"]
    assert manifest.report.n_folds == document["report"]["folds"] and manifest.report.backtest.n_trades is not None
    assert (manifest.data_span is None) == (name == "manifest_v1.json")
    again = parse_manifest(manifest.model_dump_json())
    assert again == manifest


def test_malformed_manifest_and_report_name_the_problem(saved):
    document = verify_artifact(saved[0].artifact).model_dump(mode="json")
    with pytest.raises(RegistryError, match=r"manifest is malformed \(symbol: Field required\)"):
        parse_manifest(json.dumps({k: v for k, v in document.items() if k != "symbol"}))
    with pytest.raises(RegistryError, match="manifest is not valid JSON"):
        parse_manifest("{not json")
    with pytest.raises(RegistryError, match="manifest is not a JSON object"):
        parse_manifest("[1, 2]")
    with pytest.raises(RegistryError, match=r"training report is malformed \(fold_details.0.accuracy: Field required\)"):
        parse_report({"fold_details": [{"index": 0, "train_rows": 1, "test_rows": 1,
                                        "test_start": "a", "test_end": "b"}]})
    broken = json.dumps({**document, "report": {**document["report"], "fold_details": [{"index": 0}]}})
    with pytest.raises(RegistryError, match=r"manifest is malformed \(report.fold_details.0"):
        parse_manifest(broken)


def test_partial_stored_reports_read_missing_numbers_as_none():
    """Gates fail closed: what a stored report lacks (or holds as NaN/text) reads as None, not 0."""
    report = parse_report({"oos": {"accuracy": 0.6, "recall": None, "f1": "high", "lift": float("nan")}})
    assert report.oos.accuracy == 0.6 and report.oos.recall is None and report.oos.f1 is None
    assert report.oos.lift is None and report.backtest is None and report.holdout.accuracy is None
    assert report.model_copy(update={"n_trials": 3}).model_dump(mode="json")["n_trials"] == 3


def test_a_manifest_with_nan_literals_is_still_read(saved):
    """A hand-edited or very old manifest may hold NaN literals: it reads, and writing it again
    gives strict JSON."""
    document = verify_artifact(saved[0].artifact).model_dump(mode="json")
    text = json.dumps({**document, "config": {**document["config"], "odd": float("nan")}})
    assert "NaN" in text
    manifest = parse_manifest(text)
    assert manifest.symbol == document["symbol"] and manifest.report == parse_manifest(json.dumps(document)).report
    assert _strict_json(manifest.model_dump_json())["config"]["odd"] is None


def test_a_loaded_champion_carries_its_manifest(saved):
    model = load_model(saved[0].artifact)
    assert model.manifest == verify_artifact(saved[0].artifact)
