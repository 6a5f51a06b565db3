"""The typed manifest: one record per training, written once, read back equal, versions checked."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from candor.errors import RegistryError
from candor.registry.artifact import MANIFEST_FILE, verify_artifact
from candor.registry.manifest import FORMAT_VERSION, Manifest, build_manifest
from candor.registry.tracking import training_run_fields, write_run_files
from candor.split import holdout_split
from candor.training.matrix import build_labelled_data
from candor.training.report import TrainingReport


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
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert manifest.to_dict() == _strict_json(text)  # the file is exactly the record's JSON, NaN-free
    built = build_manifest(outcome.result)
    assert Manifest.from_json(built.to_json()) == built


def test_every_serialisation_is_the_one_report(saved, tmp_path):
    """report.json, the training_runs row, --output-json's base and the manifest hold the same report."""
    outcome, _ = saved
    result = outcome.result
    assert result.report is result.report  # built once, then shared
    stored = verify_artifact(outcome.artifact).report
    assert stored == result.report
    write_run_files(result, tmp_path)
    assert _strict_json((tmp_path / "report" / "report.json").read_text()) == result.report.to_dict()
    assert training_run_fields(result, "run", None, None)["report"] == result.report.to_dict()


def test_report_keeps_the_promised_json_shape(saved):
    report = saved[0].result.report.to_dict()
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
    data = build_labelled_data(bars, config)
    dev, hold = holdout_split(data.y.index, data.t1, config.split.holdout, purge=config.purge)
    assert (span.first_bar, span.last_bar) == (bars.index[0], bars.index[-1])
    assert (span.dev_start, span.dev_end, span.dev_rows) == (data.y.index[dev[0]], data.y.index[dev[-1]], len(dev))
    holdout = outcome.result.holdout_proba.index
    assert (span.holdout_start, span.holdout_end, span.holdout_rows) == (holdout[0], holdout[-1], len(holdout))
    assert span.dev_end < span.holdout_start and str(span.first_bar.tz) == "UTC"
    written = _strict_json((outcome.artifact / MANIFEST_FILE).read_text())["data_span"]
    assert written["first_bar"] == bars.index[0].isoformat() and written["holdout_rows"] == len(holdout)


def test_unknown_future_format_is_refused_with_the_fix(saved):
    document = verify_artifact(saved[0].artifact).to_dict()
    newer = FORMAT_VERSION + 1
    with pytest.raises(RegistryError, match=rf"format_version {newer}, newer than this candor .* reads "
                                            rf"\(1 to {FORMAT_VERSION}\); upgrade candor .* or retrain"):
        Manifest.from_json(json.dumps({**document, "format_version": newer}))
    with pytest.raises(RegistryError, match=r"`format_version` must be a whole number >= 1. Got 'two'"):
        Manifest.from_dict({**document, "format_version": "two"})


def test_format_1_and_unversioned_manifests_are_read_without_a_span(saved):
    document = verify_artifact(saved[0].artifact).to_dict()
    for old in ({**document, "format_version": 1}, {k: v for k, v in document.items() if k != "format_version"}):
        manifest = Manifest.from_dict(old)
        assert manifest.data_span is None and manifest.report.oos == saved[0].result.report.oos


def test_malformed_manifest_and_report_name_the_problem(saved):
    document = verify_artifact(saved[0].artifact).to_dict()
    with pytest.raises(RegistryError, match=r"manifest is malformed \(KeyError: 'symbol'\)"):
        Manifest.from_dict({k: v for k, v in document.items() if k != "symbol"})
    with pytest.raises(RegistryError, match="manifest is not valid JSON"):
        Manifest.from_json("{not json")
    with pytest.raises(RegistryError, match=r"training report is malformed \(KeyError: 'accuracy'\)"):
        TrainingReport.from_dict({"fold_details": [{"index": 0, "train_rows": 1, "test_rows": 1,
                                                    "test_start": "a", "test_end": "b"}]})


def test_partial_stored_reports_read_missing_numbers_as_none():
    """Gates fail closed: what a stored report lacks (or holds as NaN/text) reads as None, not 0."""
    report = TrainingReport.from_dict({"oos": {"accuracy": 0.6, "recall": None, "f1": "high", "lift": float("nan")}})
    assert report.oos.accuracy == 0.6 and report.oos.recall is None and report.oos.f1 is None
    assert report.oos.lift is None and report.backtest is None and report.holdout.accuracy is None
    assert replace(report, n_trials=3).to_dict()["n_trials"] == 3


def test_a_stored_report_is_parsed_on_first_read_and_equal_to_an_eager_parse(saved):
    """Loading a manifest leaves its report as JSON until something reads it (the forecast job
    never does); reading it gives the same report, equality and replace() see it, and a malformed
    report raises the named error on that first read."""
    document = verify_artifact(saved[0].artifact).to_dict()
    lazy = Manifest.from_dict(document)
    assert not isinstance(lazy.__dict__["_report_value"], TrainingReport)
    assert lazy.report == TrainingReport.from_dict(document["report"])
    assert isinstance(lazy.__dict__["_report_value"], TrainingReport)
    assert Manifest.from_dict(document) == lazy and replace(Manifest.from_dict(document), symbol="X").report == lazy.report
    broken = Manifest.from_dict({**document, "report": {**document["report"], "fold_details": [{"index": 0}]}})
    with pytest.raises(RegistryError, match="malformed"):
        _ = broken.report


def test_a_manifest_with_nan_literals_is_still_read(saved):
    """The fast parser refuses NaN (which a hand-edited or very old manifest may hold); the
    standard parser then reads it, and writing it again gives strict JSON."""
    document = verify_artifact(saved[0].artifact).to_dict()
    text = json.dumps({**document, "config": {**document["config"], "odd": float("nan")}})
    assert "NaN" in text
    manifest = Manifest.from_json(text)
    assert manifest.symbol == document["symbol"] and manifest.report == Manifest.from_dict(document).report
    assert _strict_json(manifest.to_json())["config"]["odd"] is None
