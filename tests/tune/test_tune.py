"""candor.training.tuning: studies on the given rows only, nested in the pipeline, saved and reused."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pandas as pd
import pytest

from candor.errors import ConfigError, ModelError
from candor.training.runconfig import derive_run_config
from candor.training.tuning import (
    TunedMember, best_params_path, load_best_params_document, save_best_params, study_name_for,
    tune_params,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _tune(data, **kw):
    args = dict(trials=4, purge=5, embargo=5, random_state=0)
    args.update(kw)
    return tune_params(data.X, data.y, data.t1, kw.pop("model", "logreg") if "model" in kw else "logreg",
                       **{k: v for k, v in args.items() if k != "model"})


def test_study_runs_the_trials_and_returns_the_full_space(small_data):
    _, data, _ = small_data
    result = tune_params(data.X, data.y, data.t1, "lgbm", trials=3, purge=5, embargo=5, random_state=0)
    assert result.n_trials == 3 and result.n_own_trials == 3
    # constants of the space (subsample_freq) are part of the best parameters, not just sampled ones
    assert result.best_params["subsample_freq"] == 1
    assert set(result.best_params) >= {"n_estimators", "max_depth", "learning_rate", "reg_lambda"}
    assert 0.0 <= result.best_value <= 1.0


def test_seeded_study_is_deterministic_and_seed_matters(small_data):
    _, data, _ = small_data
    a, b = _tune(data), _tune(data)
    c = _tune(data, random_state=1)
    assert a.best_params == b.best_params and a.best_value == b.best_value
    assert c.best_params != a.best_params


def test_log_loss_is_minimised(small_data):
    _, data, _ = small_data
    storage = optuna.storages.InMemoryStorage()
    result = _tune(data, metric="log_loss", trials=5, storage=storage, study_name="ll")
    values = [t.value for t in optuna.load_study(study_name="ll", storage=storage).trials if t.value is not None]
    assert result.metric == "log_loss" and result.best_value == min(values) < max(values)
    assert result.best_value > 0.6  # about ln 2 on a random walk: no edge to find


def test_objective_sees_only_the_given_rows(small_data):
    """Tuning on the first half gives the same result whatever the second half holds."""
    _, data, _ = small_data
    half = len(data.y) // 2
    X, y, t1 = data.X.iloc[:half], data.y.iloc[:half], data.t1.iloc[:half]
    first = tune_params(X, y, t1, "logreg", trials=3, purge=5, embargo=5, random_state=0)
    shuffled_rest = data.y.copy()
    shuffled_rest.iloc[half:] = np.random.default_rng(0).permutation(shuffled_rest.iloc[half:].to_numpy())
    again = tune_params(X, shuffled_rest.iloc[:half], t1, "logreg", trials=3, purge=5, embargo=5, random_state=0)
    assert first.best_value == again.best_value and first.best_params == again.best_params


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"trials": 0}, r"`trials` must be an integer >= 1. Got 0"),
    ({"metric": "auc"}, r"`metric` must be one of f1, accuracy, log_loss. Got 'auc'"),
    ({"timeout": -1}, r"`timeout` must be > 0"),
])
def test_bad_arguments_name_parameter_and_value(small_data, kwargs, match):
    _, data, _ = small_data
    with pytest.raises(ConfigError, match=match):
        _tune(data, **kwargs)


def test_single_class_rows_cannot_be_tuned(small_data):
    _, data, _ = small_data
    y = data.y.copy()
    y[:] = y.iloc[0]
    with pytest.raises(ModelError, match="no inner tuning fold has two classes"):
        tune_params(data.X, y, data.t1, "logreg", trials=2, purge=5, embargo=5, random_state=0)


def test_tuned_member_studies_only_the_rows_it_is_given(small_data):
    """Like GridSearchCV: fit tunes on (X, y) then refits the best; rows outside never matter."""
    from candor.models import make_model

    _, data, _ = small_data
    half = len(data.y) // 2
    X, t1 = data.X.iloc[:half], data.t1.iloc[:half]
    member = TunedMember("logreg", trials=3, purge=5, embargo=5, study_prefix="p")
    first = member.fit(X, data.y.iloc[:half], t1=t1)
    assert first is member and member.get_params()["trials"] == 3  # fit returns self, params untouched
    assert member.tuning_.study_name.startswith(f"p.logreg.{half}r.") and member.tuning_.n_own_trials == 3
    expected = tune_params(X, data.y.iloc[:half], t1, "logreg", trials=3, purge=5, embargo=5, random_state=0)
    assert member.best_params_ == expected.best_params and member.tuning_.best_value == expected.best_value
    refit = make_model("logreg", params=expected.best_params).fit(X, data.y.iloc[:half])
    np.testing.assert_array_equal(member.predict_proba(data.X.iloc[half:]), refit.predict_proba(data.X.iloc[half:]))
    shuffled = data.y.copy()
    shuffled.iloc[half:] = np.random.default_rng(0).permutation(shuffled.iloc[half:].to_numpy())
    again = TunedMember("logreg", trials=3, purge=5, embargo=5, study_prefix="p").fit(X, shuffled.iloc[:half], t1=t1)
    assert again.best_params_ == member.best_params_ and again.tuning_.best_value == member.tuning_.best_value


def test_pipeline_tunes_inside_every_outer_fold_and_counts_every_trial(small_data):
    from candor.ensemble import BlendedEnsemble
    from candor.training.run import train_labelled

    _, data, config = small_data
    tuned = config.model_copy(update={"tune": config.tune.model_copy(update={"enabled": True, "trials": 3})})
    result = train_labelled(data, tuned, symbol="RWT", timeframe="d1", fingerprint="x")
    # the same walk-forward as untuned: members + Blend, the served members plain pipelines (no optuna)
    assert isinstance(result.model, BlendedEnsemble)
    assert type(result.model.members_["logreg"]).__name__ == "Pipeline"
    tuning = result.tuning
    assert len(tuning["folds"]) == len(result.folds) == 3
    # each fold's study saw exactly that fold's training rows (the row count is in the study name)
    for fold, summary in zip(tuning["folds"], result.folds):
        assert f".{summary.train_rows}r." in fold["logreg"]["study_name"]
    studies = 3 + 1 + (tuning["warmup"] is not None)  # 3 folds + the production model (+ the warm-up block)
    assert tuning["n_trials_total"] == 3 * studies
    assert result.n_trials >= tuning["n_trials_total"]
    served = result.model.members_["logreg"][-1].get_params()
    assert all(served[k] == v for k, v in tuning["best_params"]["logreg"].items())


def test_best_params_are_saved_and_reused_until_optimize_again(small_data, tmp_path):
    from candor.training.run import train_labelled

    _, data, config = small_data
    config = config.model_copy(update={"home": tmp_path})
    tuned = config.model_copy(update={"tune": config.tune.model_copy(update={"enabled": True, "trials": 2})})
    result = train_labelled(data, tuned, symbol="RWT", timeframe="d1", fingerprint="x")
    path = save_best_params(result, tmp_path)
    assert path == best_params_path(tmp_path, "RWT", "d1")
    document = json.loads(path.read_text())
    assert document["params"] == result.tuning["best_params"] and document["n_trials"] == result.tuning["n_trials_total"]
    span = result.data_span  # provenance: the development rows the production studies scored, and the folds
    assert document["tuned_on"]["first_row"] == span.dev_start.isoformat()
    assert document["tuned_on"]["last_row"] == span.dev_end.isoformat()
    assert document["tuned_on"]["labels_before"] == span.holdout_start.isoformat()
    assert document["tuned_on"]["rows"] == span.dev_rows and document["n_trials_run"] == result.n_trials
    assert [f["test_start"] for f in document["folds"]] == [f.test_start for f in result.folds]
    reused = derive_run_config(config, "RWT", "d1")
    assert reused.config.models.params["logreg"] == result.tuning["best_params"]["logreg"]
    (setting,) = reused.derived  # reuse is recorded with where the parameters came from, never silent
    assert setting.field == "models.params.logreg" and str(path) in setting.source and "--optimize" in setting.source
    assert reused.reused is not None and reused.reused.n_trials == document["n_trials"]
    assert f"{document['n_trials']} trials" in setting.source and "tuned on" in setting.source
    explicit = config.model_copy(update={"models": config.models.model_copy(update={"params": {"logreg": {"C": 0.5}}})})
    assert derive_run_config(explicit, "RWT", "d1").config.models.params["logreg"]["C"] == 0.5  # config wins
    again = derive_run_config(tuned, "RWT", "d1")
    assert again.config.models.params == {} and again.config.tune.study_name == "candor.RWT.d1"  # search anew
    other = derive_run_config(config, "OTHER", "d1")
    assert other.derived == () and other.config == config
    assert load_best_params_document(tmp_path, "OTHER", "d1") is None


def test_corrupt_best_params_file_is_a_config_error(tmp_path):
    path = best_params_path(tmp_path, "X", "d1")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not a best_hyperparameters file"):
        load_best_params_document(tmp_path, "X", "d1")


def test_study_name_depends_on_rows_and_labels(small_data):
    _, data, _ = small_data
    a = study_name_for("p", "lgbm", data.X, data.y)
    assert a == study_name_for("p", "lgbm", data.X, data.y)
    assert a != study_name_for("p", "lgbm", data.X.iloc[:-1], data.y.iloc[:-1])
    assert a.startswith(f"p.lgbm.{len(data.y)}r.")


# ------------------------------------------- reuse of saved parameters (issue 14, item 4)
def _walk(n: int = 1900):
    from candor.data.synthetic import random_walk

    return random_walk(n, seed=7, symbol="RWT")


def _cut(bars, start=None, stop=None):
    part = bars.iloc[start:stop].copy()
    part.attrs = dict(bars.attrs)
    return part


@pytest.fixture(scope="module")
def tuned_home(small_data, tmp_path_factory):
    """An --optimize run on the first 900 bars that saved its parameters under a scratch home."""
    from candor.training.run import train

    _, _, config = small_data
    home = tmp_path_factory.mktemp("home")
    config = config.model_copy(update={"home": home})
    tuned = config.model_copy(update={"tune": config.tune.model_copy(update={"enabled": True, "trials": 2})})
    result = train(_cut(_walk(), stop=900), tuned)
    save_best_params(result, home)
    return config, result


def test_reuse_on_the_rows_it_was_tuned_on_is_ignored_with_one_warning_unless_required(tuned_home, caplog):
    from candor.training.reuse import TuningReuseError
    from candor.application.train import run_training

    config, _ = tuned_home
    # By default (tune.reuse_saved = "auto") a later plain training is not blocked by the saved file:
    # it trains with the configured parameters after one warning line, and records why.
    with caplog.at_level("WARNING", logger="candor.training.runconfig"):
        outcome = run_training(_cut(_walk(), stop=900), config, dry_run=True)
    (warning,) = [r for r in caplog.records if r.name == "candor.training.runconfig"]
    assert "NOT reusing" in warning.getMessage() and "overlap this run's out-of-sample rows" in warning.getMessage()
    (note,) = outcome.result.derived
    assert note.field == "tune.reuse_saved" and note.value == "never" and "overlap" in note.source
    assert outcome.run.config.models.params == {} and outcome.result.n_trials == 1
    # Asked for reuse (--reuse-params): refused before any fit, exit 1.
    required = config.model_copy(update={"tune": config.tune.model_copy(update={"reuse_saved": "require"})})
    with pytest.raises(TuningReuseError, match=r"tuned on rows .* overlap this run's out-of-sample rows.*"
                                               r"--optimize.*--reuse-params"):
        run_training(_cut(_walk(), stop=900), required, dry_run=True)
    # The explicit opt-out trains with the configured parameters, and says so.
    ignored = config.model_copy(update={"tune": config.tune.model_copy(update={"reuse_saved": False})})
    outcome = run_training(_cut(_walk(), stop=900), ignored, dry_run=True)
    (note,) = outcome.result.derived
    assert note.field == "tune.reuse_saved" and "NOT reusing" in note.source
    assert outcome.run.config.models.params == {} and outcome.result.n_trials == 1


def test_reuse_on_a_later_disjoint_span_counts_every_trial_in_the_deflated_sharpe(tuned_home, tmp_path):
    from candor.backtest.replay import replay
    from candor.registry.artifact import load_model
    from candor.application.train import run_training

    config, tuning_run = tuned_home
    bars = _walk()
    later = _cut(bars, start=500, stop=1700)  # shares training rows with the tuning, not its test rows
    outcome = run_training(later, config, out=tmp_path, track=False)
    first_test = pd.Timestamp(outcome.result.folds[0].test_start)
    assert first_test >= tuning_run.data_span.holdout_start  # the precondition this test is about
    study_trials = tuning_run.tuning["n_trials_total"]
    assert study_trials == 2 * 5  # 2 trials x (warm-up block + 3 folds + production), one member
    assert outcome.result.n_trials == 1 + study_trials  # this run's configuration + the reused studies
    assert outcome.result.backtest.sharpe.n_trials == 1 + study_trials
    assert outcome.run.config.models.params["logreg"] == tuning_run.tuning["best_params"]["logreg"]
    model = load_model(outcome.artifact)
    assert model.manifest.report.n_trials == 1 + study_trials
    assert any("tuned on" in d["source"] for d in model.manifest.report.derived)  # provenance in the manifest
    # `candor backtest` (replay) reads the trial count from the manifest.
    assert replay(model, _cut(bars, start=1000)).sharpe.n_trials == 1 + study_trials


def test_saved_parameters_without_provenance_are_ignored_unless_required(small_data, tmp_path):
    from candor.training.reuse import TuningReuseError

    _, _, config = small_data
    path = best_params_path(tmp_path, "RWT", "d1")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"params": {"logreg": {"C": 0.3}}, "n_trials": 27}))
    home = config.model_copy(update={"home": tmp_path})
    run = derive_run_config(home, "RWT", "d1")  # auto: ignored, with the reason recorded
    (note,) = run.derived
    assert run.reused is None and run.config.models.params == {} and "cannot be checked" in note.source
    required = home.model_copy(update={"tune": home.tune.model_copy(update={"reuse_saved": "require"})})
    with pytest.raises(TuningReuseError, match="without the rows they were tuned on.*--reuse-params"):
        derive_run_config(required, "RWT", "d1")


def test_optuna_logs_through_candors_json_handler_not_its_own(capsys):
    """`--log-json`: Optuna's lines are JSON objects from candor's handler, and its own stderr handler is off."""
    import logging

    from candor.logs import adopt_optuna, configure_logging

    configure_logging("INFO", json_lines=True)
    try:
        adopt_optuna()
        optuna.logging.get_logger("optuna.study.study").info("Trial 0 finished")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert [(line["logger"], line["message"]) for line in lines] == [("optuna.study.study", "Trial 0 finished")]
        assert not [h for h in logging.getLogger("optuna").handlers if type(h) is logging.StreamHandler]
    finally:
        configure_logging("WARNING")
