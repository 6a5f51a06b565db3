"""Each setting is defined once (candor.records.specs) and every invalid config is refused when it
loads: exit 3, one line, before a bar is read, nothing written.

Every cross-field rule has a ``load_config(overrides=...)`` case here; the CLI cases run ``candor
train`` with a ``candor.toml`` in the working directory, as a user would.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from pydantic import ValidationError

from candor.config import Config, load_config
from candor.errors import ConfigError
from candor.records.specs import (
    FEATURE_GROUPS, MODEL_CHOICES, ROLLING_TRAIN_SIZE, TIMEFRAME_NAMES, BacktestConfig, FeatureSet, GateSpec, LabelSpec, ModelSpec,
    RegistrySpec, SplitSpec,
)

#: (overrides, the message the one ConfigError line must match) — every cross-field rule, and the
#: single-field rules the library used to refuse only after the walk-forward.
REFUSED_AT_LOAD = [
    ({"backtest": {"min_confidence": 0}},
     r"^`backtest.min_confidence` must be in \(0, 1\]; leave it out \(None\) for no threshold. Got 0.$"),
    ({"backtest": {"min_confidence": 1.5}}, r"`backtest.min_confidence` must be in \(0, 1\].*Got 1.5"),
    ({"backtest": {"execution": "same_bar"}}, r"`backtest.execution` must be 'next_open' or 'next_close'.*Got 'same_bar'"),
    ({"backtest": {"cost_bps": -1}}, r"`backtest.cost_bps` must be a finite number >= 0 \(basis points\). Got -1"),
    ({"backtest": {"periods_per_year": 0}}, r"`backtest.periods_per_year` must be > 0"),
    ({"backtest": {"short_on_bearish": "yes"}}, r"`backtest.short_on_bearish` must be True or False. Got 'yes'"),
    ({"features": {"short": 60, "medium": 20}},
     r"^`features`: `periods` \(short, medium, long\) must be integers with 4 <= short < medium < long, "
     r"e.g. 14, 50, 200. Got \(60, 20, 200\).$"),
    ({"features": {"short": 3}}, r"`features`: .*4 <= short.*Got \(3, 50, 200\)"),
    ({"features": {"medium": 300}}, r"short < medium < long.*Got \(14, 300, 200\)"),
    ({"features": {"groups": ["returns", "astrology"]}}, r"`features.groups` must be a non-empty subset of .*astrology"),
    ({"features": {"groups": []}}, r"`features.groups` must be a non-empty subset"),
    ({"features": {"context_timeframes": ["d2"]}}, r"`features.context_timeframes` entries must be one of .*'d2'"),
    ({"labels": {"horizon": 5}, "split": {"purge": 2}},
     r"^split.purge must be >= labels.horizon \(5\) so no training label reaches into the test span. Got 2.$"),
    ({"labels": {"horizon": 10}, "split": {"purge": 9}}, r"split.purge must be >= labels.horizon \(10\).*Got 9"),
    ({"labels": {"vol_window": 1}}, r"`labels.vol_window` must be >= 2. Got 1."),
    ({"labels": {"horizon": True}}, r"`labels.horizon` must be an integer. Got True."),
    ({"split": {"train_size": 500}}, r"`split`: `train_size` \(500\) applies only to window = 'rolling'"),
    ({"models": {"models": ["rf", "rf"]}}, r"`models.models` names 'rf' twice; list each model once"),
    ({"models": {"params": {"svm": {"C": 1}}}}, r"`models.params`: names 'svm', which is not a catalog model"),
    ({"models": {"inner_splits": 2}}, r"`models`: `inner_splits` no longer exists: the blend's weights .* Delete the line"),
    ({"models": {"models": ["rf", "arima_garch"]}, "labels": {"kind": "volscaled"}},
     r"arima_garch classifies threshold and binary labels, not 'volscaled'"),
    ({"models": {"models": ["rf", "arima_garch"]}, "features": {"groups": ["momentum"]}},
     r"arima_garch reads the 1-bar log return .* 'returns' feature group"),
    ({"registry": {"min_deflated_sharpe": 1.5}}, r"`registry.min_deflated_sharpe` must be a number in \[0, 1\]. Got 1.5."),
    ({"registry": {"section": "train"}}, r"`registry.section` must be one of oos, holdout. Got 'train'."),
    ({"drift": {"normal_pts": 30}}, r"normal_pts: the fixed accuracy bands were replaced by a sequential test"),
    ({"drift": {"emergency_false_alarms_per_year": 0.1}}, r"emergency_false_alarms_per_year must be <= drift.false_alarms_per_year"),
    ({"schedule": {"retrain": "every day"}}, r"`schedule.retrain` must be a five-field cron line"),
    ({"schedule": {"forecast": "30 25 * * mon-fri"}}, r"`schedule.forecast` .*hour '25' is outside 0-23"),
    ({"schedule": {"drift": "0 22 * * mon-sat-x"}}, r"`schedule.drift` .*day_of_week 'mon-sat-x' is not a cron value"),
    ({"schedule": {"timezone": "Mars/Olympus"}}, r"`schedule.timezone` must be an IANA time zone"),
    ({"forecast": {"timeframes": ["d2"]}}, r"`forecast.timeframes` entries must be timeframes .*'d2' is not"),
    ({"forecast": {"universe": ["SPX"]}}, r"`forecast.universe` entries must be SYMBOL/timeframe .*'SPX' is not"),
    ({"forecast": {"universe": ["SPX/d9"]}}, r"`forecast.universe` entries .*'SPX/d9' is not"),
    ({"forecast": {"consensus_weights": {"d1": -1}}}, r"`forecast.consensus_weights`: weights must be >= 0"),
    ({"forecast": {"consensus_weights": {"daily": 2}}}, r"`forecast.consensus_weights`: .*'daily' is not"),
    ({"universe": {"timeframes": ["h2"]}}, r"`universe.timeframes` entries must be timeframes .*'h2' is not"),
]


@pytest.mark.parametrize(("overrides", "pattern"), REFUSED_AT_LOAD, ids=[str(o) for o, _ in REFUSED_AT_LOAD])
def test_every_rule_is_refused_when_the_config_loads(overrides, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_config(environ={}, overrides=overrides)


def test_the_config_sections_are_the_library_specs():
    config = load_config(environ={}, overrides={"split": {"window": "rolling", "train_size": 800},
                                                "backtest": {"min_confidence": 0.4, "risk_free": 0.02}})
    assert type(config.labels) is LabelSpec and type(config.features) is FeatureSet
    assert type(config.split) is SplitSpec and type(config.models) is ModelSpec
    assert type(config.backtest) is BacktestConfig and config.backtest.min_confidence == 0.4
    assert type(config.registry) is RegistrySpec and isinstance(config.registry, GateSpec)
    assert config.features == FeatureSet() and config.features.groups == FEATURE_GROUPS
    assert config.split.train_size == 800
    rolling = load_config(environ={}, overrides={"split": {"window": "rolling"}})  # issue 22 item 15
    assert rolling.split.train_size == ROLLING_TRAIN_SIZE and load_config(environ={}).split.train_size is None


def test_a_spec_built_directly_names_its_parameter_and_one_in_a_config_its_path():
    with pytest.raises(ConfigError, match=r"^`horizon` must be >= 1. Got 0.$"):
        LabelSpec(horizon=0)
    with pytest.raises(ValidationError):  # model_validate (a stored manifest) keeps pydantic's error and path
        LabelSpec.model_validate({"horizon": 0})
    with pytest.raises(ConfigError, match=r"^`labels.horizon` must be >= 1. Got 0.$"):
        load_config(environ={}, overrides={"labels": {"horizon": 0}})
    assert LabelSpec("binary", 3) == LabelSpec(kind="binary", horizon=3)  # positional, as the dataclass took them
    with pytest.raises(TypeError, match="each given once"):
        LabelSpec("binary", kind="threshold")


def test_stored_specs_read_back():
    """A manifest stores ``model_dump(mode="json")``; older manifests hold the dataclass dicts."""
    stored = {"groups": ["returns", "momentum"], "short": 10, "medium": 30, "long": 100, "context_timeframes": None}
    assert FeatureSet.model_validate(stored) == FeatureSet(groups=("returns", "momentum"), short=10, medium=30, long=100)
    spec = LabelSpec(kind="triple", horizon=3, vol_window=20)
    assert LabelSpec.model_validate(spec.model_dump(mode="json")) == spec
    assert hash(FeatureSet()) == hash(FeatureSet())  # the feature plan cache keys on it


def test_documented_toml_keys_still_load(tmp_path):
    """The keys README and docs/operations.md show, written as a user writes them."""
    path = tmp_path / "candor.toml"
    path.write_text(
        'seed = 42\n[labels]\nkind = "threshold"\nhorizon = 5\nthreshold = 0.002\n'
        '[split]\nfolds = 5\nholdout = 0.15\n[models]\nmodels = ["rf", "gb", "xgb", "lgbm"]\nensemble = "ridge"\n'
        '[registry]\nmin_accuracy = 0.60\nrequire_edge = true\nmin_backtest_sharpe = 0.5\nmax_model_age_days = 60\n'
        '[features]\ngroups = ["returns", "momentum"]\nshort = 10\nmedium = 30\nlong = 100\n'
        '[backtest]\nmin_confidence = 0.45\ncost_bps = 2\n'
        '[schedule]\nforecast = "30 21 * * mon-fri"\nretrain = "0 6 1 * *"\ndrift = "*/15 9-16 * jan-mar 0-4"\n')
    config = load_config(path, environ={})
    assert config.registry.min_backtest_sharpe == 0.5 and config.features.short == 10
    assert config.backtest.min_confidence == 0.45 and config.backtest.cost_bps == 2.0


def test_catalog_names_match_the_packages_that_own_them():
    from candor.data.bars import TIMEFRAMES
    from candor.features import ALL_GROUPS
    from candor.models import MODEL_NAMES

    assert TIMEFRAME_NAMES == tuple(TIMEFRAMES)
    assert set(MODEL_CHOICES) == set(MODEL_NAMES)
    assert FEATURE_GROUPS == ALL_GROUPS


def test_config_imports_no_scheduler_and_records_import_no_other_candor_package():
    code = ("import sys, candor.config; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'apscheduler' or m.startswith('candor.') "
            "and m.split('.')[1] not in ('config', 'errors', 'records')); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


CRON_LINES = ["0 6 1 * *", "0 6 * * mon", "30 21 * * mon-fri", "*/5 * * * *", "*/59 * * * *", "*/60 * * * *",
              "*/0 * * * *", "0 0 last * *", "0 0 L * *", "5-10/2 * * * *", "10-5 * * * *", "5/10 * * * *",
              "59/1 * * * *", "0 0 * jan-mar *", "0 0 * mar-jan *", "0 0 * * 0-6", "0 0 * * 7", "0 0 0 * *",
              "0 0 32 * *", "0 0 * 13 *", "0 0 * * MON-FRI", "0 0 * * monday", "1,2,3 * * * *", "1,,2 * * * *",
              "? * * * *", "0 0 * *", "0 0 * * * *", "0 24 * * *", "0 0 * * sun", "15,45 9-16 * * mon-fri"]


@pytest.mark.parametrize("line", CRON_LINES)
def test_the_cron_check_agrees_with_apscheduler(line):
    """config checks cron lines without importing the scheduler; the scheduler must agree."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(line, timezone="UTC")
        accepted = True
    except (ValueError, LookupError):
        accepted = False
    if accepted:
        load_config(environ={}, overrides={"schedule": {"retrain": line}})
    else:
        with pytest.raises(ConfigError, match="`schedule.retrain` must be a five-field cron line"):
            load_config(environ={}, overrides={"schedule": {"retrain": line}})


def test_training_refuses_what_the_config_refuses():
    """Load and use agree: the backtest refuses min_confidence = 0 the same way, not later."""
    with pytest.raises(ConfigError, match=r"`min_confidence` must be in \(0, 1\]"):
        BacktestConfig(min_confidence=0)
    assert Config.model_fields["backtest"].annotation is BacktestConfig


# ---------------------------------------------------------------------------------- the CLI
@pytest.mark.parametrize(("toml", "pattern"), [
    ("[backtest]\nmin_confidence = 0\n", r"`backtest.min_confidence` must be in \(0, 1\]"),
    ("[features]\nshort = 60\nmedium = 20\n", r"short < medium < long.*Got \(60, 20, 200\)"),
    ("[split]\ntrain_size = 500\n", r"`train_size` \(500\) applies only to window = 'rolling'"),
    ("[schedule]\nforecast = \"30 21 * * mon-fry\"\n", r"schedule.forecast"),
])
def test_train_refuses_a_bad_candor_toml_at_once(toml, pattern, tmp_path, monkeypatch, capsys):
    from candor.cli import main

    home = tmp_path / "home"
    monkeypatch.setenv("CANDOR_HOME", str(home))
    for name in ("CANDOR_DATABASE_URL", "MLFLOW_TRACKING_URI", "CANDOR_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "candor.toml").write_text(toml)
    started = time.perf_counter()
    code = main(["train", "--dataset", "sp500", "--models", "logreg"])
    seconds = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert code == 3, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in out + err, err
    assert re.search(pattern, lines[0]), lines[0]
    assert seconds < 5, f"refused after {seconds:.1f}s: the config must be refused before any bar is read"
    assert not home.exists() or not any(home.iterdir()), sorted(p.name for p in home.rglob("*"))
