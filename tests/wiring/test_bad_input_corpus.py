"""The permanent bad-input corpus: every case gives one line, the right exit code, no traceback,
and leaves ``<home>`` exactly as it was (every path, size and mtime: :func:`snapshot`) — a fresh
home stays absent, a migrated one gains no MLflow store.

Generated here (no large files committed): broken bar files × every bar-reading command, bad
options and config values per command, bad registry references and bad API requests.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from candor.cli import main
from tests.wiring.homes import snapshot

DAYS = [f"2024-03-{d:02d}" for d in range(4, 9)] + [f"2024-03-{d:02d}" for d in range(11, 16)]
ROWS = [(d, 10 + i, 12 + i, 9 + i, 11 + i, 100 * (i + 1)) for i, d in enumerate(DAYS)]


def _csv(rows=ROWS, header="Date,Open,High,Low,Close,Volume") -> str:
    return header + "\n" + "\n".join(",".join(str(v) for v in row) for row in rows) + "\n"


def _with(i: int, **values) -> list[tuple]:
    names = ("date", "open", "high", "low", "close", "volume")
    rows = [list(r) for r in ROWS]
    for key, value in values.items():
        rows[i][names.index(key)] = value
    return [tuple(r) for r in rows]


#: name → (file text, a pattern the one error line must contain)
BROKEN_FILES = {
    "empty": ("", r"empty|no data|no columns|cannot read"),
    "header_only": ("Date,Open,High,Low,Close,Volume\n", r"no rows|empty|min_rows|at least"),
    "no_volume": (_csv([r[:5] for r in ROWS], "Date,Open,High,Low,Close"), r"missing column 'volume'"),
    "no_close": (_csv([r[:4] + r[5:] for r in ROWS], "Date,Open,High,Low,Volume"), r"missing column 'close'"),
    "no_date": (_csv([r[1:] for r in ROWS], "Open,High,Low,Close,Volume"), r"missing column 'ts'"),
    "bad_date": (_csv(_with(2, date="2024-13-45")), r"cannot parse '2024-13-45'"),
    "text_price": (_csv(_with(3, close="abc")), r"non-numeric value 'abc'"),
    "unsorted": (_csv([ROWS[1], ROWS[0], *ROWS[2:]]), r"rule 'sorted'"),
    "duplicate": (_csv(_with(2, date=DAYS[1])), r"rule 'unique_ts'"),
    "nan_close": (_csv(_with(4, close="")), r"rule 'finite'"),
    "inf_open": (_csv(_with(4, open="inf")), r"rule 'finite'|non-numeric"),
    "zero_price": (_csv(_with(5, low=0)), r"rule 'positive_prices'"),
    "negative_price": (_csv(_with(5, open=-1, low=-2)), r"rule 'positive_prices'"),
    "high_lt_low": (_csv(_with(6, high=8)), r"rule 'high_ge_low'|rule 'high_ge_open_close'"),
    "high_lt_close": (_csv(_with(6, high=16, close=17, low=14)), r"rule 'high_ge_open_close'"),
    "low_gt_open": (_csv(_with(6, low=20, high=21)), r"rule 'low_le_open_close'"),
    "negative_volume": (_csv(_with(7, volume=-5)), r"rule 'nonnegative_volume'"),
    "mixed_timeframes": (_csv(_with(3, date="2024-03-06 01:00")), r"rule 'spacing'"),
    "two_offsets": (_csv([(f"{d}T00:00:00+00:00", *r[1:]) for d, *_ in ROWS[:1] for r in ROWS[:1]]
                         + [(f"{DAYS[0]}T00:00:00-05:00", *ROWS[1][1:])] + ROWS[2:], "Datetime,Open,High,Low,Close,Volume"),
                    r"rule 'spacing'|rule 'sorted'"),
    "ambiguous_slash_dates": (_csv([(f"0{i + 1}/03/2024", *r[1:]) for i, r in enumerate(ROWS[:9])]), r"ISO dates"),
    "binary_garbage": ("\x00\x01\x02\xff\xfe" * 20, r"cannot read|missing column|empty|not|parse"),
}

BAR_COMMANDS = {
    "validate": ["validate"],
    "features": ["features"],
    "train": ["train", "--models", "logreg", "--folds", "3", "--fold-jobs", "1", "--symbol", "BAD"],
    "backtest": ["backtest", "--model", "candor.BAD.d1@champion"],
}


def _one_line(err: str, out: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:") and "Traceback" not in err + out
    return lines[0]


def _nothing_written(home, before) -> None:
    """No model or tuning output, and ``<home>`` as it was before the command (``home`` etc.:
    tests/wiring/conftest.py)."""
    assert not (home / "models").exists() and not (home / "best_hyperparameters").exists()
    assert snapshot(home) == before, f"the refused command changed {home}"


@pytest.mark.parametrize("command", sorted(BAR_COMMANDS))
@pytest.mark.parametrize("case", sorted(BROKEN_FILES))
def test_broken_bar_files(case, command, home, tmp_path, capsys):
    text, pattern = BROKEN_FILES[case]
    path = tmp_path / "bars.csv"
    path.write_bytes(text.encode("latin-1"))
    before = snapshot(home)
    code = main([*BAR_COMMANDS[command], "--data", str(path), "--timeframe", "d1", "--calendar", "none"])
    out, err = capsys.readouterr()
    assert code == 1, err
    line = _one_line(err, out)
    # every command reads and validates its bars before opening a store: the backtest too refuses
    # the file itself, before it looks its model up in the registry
    assert re.search(pattern, line), line
    _nothing_written(home, before)


FETCH = ["data", "fetch", "--provider"]

OPTION_CASES = [
    # (argv, exit code, pattern)
    (["train", "--dataset", "nope"], 3, r"`dataset` must be one of"),
    (["train", "--dataset", "sp500", "--models", ""], 3, r"models"),
    (["train", "--dataset", "sp500", "--models", "rf,svm"], 3, r"unknown model 'svm'"),
    (["train", "--dataset", "sp500", "--models", "rf,arima_garch", "--label", "volscaled"], 3,
     r"arima_garch classifies threshold and binary labels, not 'volscaled'"),
    (["train", "--dataset", "sp500", "--ensemble", "vote"], 3, r"models.ensemble"),
    (["train", "--dataset", "sp500", "--label", "sometimes"], 3, r"labels.kind"),
    (["train", "--dataset", "sp500", "--horizon", "-1"], 3, r"labels.horizon"),
    (["train", "--dataset", "sp500", "--threshold", "-1"], 3, r"labels.threshold"),
    (["train", "--dataset", "sp500", "--folds", "1"], 3, r"split.folds"),
    (["train", "--dataset", "sp500", "--holdout", "0.9"], 3, r"split.holdout"),
    (["train", "--dataset", "sp500", "--purge", "1"], 3, r"purge must be >= labels.horizon"),
    (["train", "--dataset", "sp500", "--embargo", "-3"], 3, r"split.embargo"),
    (["train", "--dataset", "sp500", "--min-accuracy", "1.5"], 3, r"registry.min_accuracy"),
    (["train", "--dataset", "sp500", "--fold-jobs", "0"], 3, r"models.fold_jobs"),
    (["train", "--dataset", "sp500", "--jobs", "0", "--all"], 3, r"universe.jobs|instead of --data"),
    (["train", "--dataset", "sp500", "--trials", "0", "--optimize"], 3, r"tune.trials"),
    (["train", "--dataset", "sp500", "--metric", "auc", "--optimize"], 3, r"tune.metric"),
    (["train", "--dataset", "sp500", "--device", "tpu"], 3, r"device"),
    (["train", "--dataset", "sp500", "--log-level", "LOUD"], 3, r"--log-level"),
    (["train", "--dataset", "sp500", "--dry-run", "--promote"], 3, r"nothing to --promote"),
    (["train", "--dataset", "sp500", "--all"], 3, r"instead of --data"),
    (["train", "--dataset", "sp500", "--symbol", "../x"], 3, r"`symbol` must be"),
    (["train", "--dataset", "sp500", "--timeframe", "d2"], 3, r"`timeframe` must be one of"),
    (["train", "--dataset", "sp500", "--tz", "Mars/Olympus"], 3, r"`tz`"),
    (["train", "--dataset", "sp500", "--output-json", "."], 3, r"not a directory|must be a file"),
    (["train", "--dataset", "sp500", "--seed", "x"], 3, r"seed|integer"),
    (["train", "--data", "missing.csv"], 1, r"missing.csv"),
    (["train"], 3, r"exactly one of `dataset`"),
    (["train", "--dataset", "sp500", "--period", "4y"], 3, r"`period` must be one of 1y, 2y, 3y, 5y, 10y"),
    (["train", "--dataset", "sp500", "--period", "1y"], 1, r"`period` 1y leaves \d+ bar\(s\)"),
    (["train", "--dataset", "sp500", "--model-type", "lgbm2"], 3, r"--model-type.*must be one of xgb, rf, lgb"),
    (["train", "--dataset", "sp500", "--model-type", "rf", "--models", "xgb"], 3, r"give only one of them"),
    (["train", "--dataset", "sp500", "--force", "--dry-run"], 3, r"--dry-run writes nothing"),
    (["validate", "--dataset", "sp500", "--data", "x.csv"], 3, r"exactly one of"),
    (["validate", "--dataset", "sp500", "--gaps", "sometimes"], 3, r"gaps"),
    (["validate", "--dataset", "sp500", "--calendar", "MOON"], 3, r"calendar"),
    (["features", "--dataset", "sp500", "--groups", "astrology"], 3, r"groups|group"),
    (["features", "--dataset", "sp500", "--periods", "1,2"], 3, r"period|short|features"),
    (["forecast", "--horizons", "abc"], 3, r"forecast.horizons"),
    (["forecast", "--horizons", "0"], 3, r"forecast.horizons"),
    (["forecast", "--symbols", "SPX"], 3, r"`timeframes` must name"),
    (["forecast", "--all", "--symbols", "SPX"], 3, r"--all or --symbols"),
    (["forecast", "--timeframes", "d9"], 3, r"`timeframe` must be one of"),
    (["forecast", "--log-level", "LOUD"], 3, r"--log-level"),
    (["drift", "--log-level", "LOUD"], 3, r"--log-level"),
    (["schedule", "run", "--once", "nap"], 3, r"`job` must be one of|no candor schema|candor db upgrade"),
    (["backtest", "--model", "nonsense", "--dataset", "sp500"], 3, r"`--model` must be"),
    (["backtest", "--model", "x@1", "--dataset", "sp500", "--execution", "same_bar"], 3, r"execution"),
    (["backtest", "--model", "x@1", "--dataset", "sp500", "--cost-bps", "-1"], 3, r"cost_bps"),
    (["backtest", "--model", "x@1", "--dataset", "sp500", "--min-confidence", "2"], 3, r"min_confidence"),
    (["backtest", "--model", "x@1", "--dataset", "sp500", "--plot", "."], 3, r"--plot"),
    (["serve", "--workers", "0"], 3, r"--workers"),
    (["serve", "--port", "0"], 3, r"--port"),
    (["db", "current", "--url", "not a url"], 3, r"database url"),
    (["db", "upgrade", "--url", "mysql://u:pw@127.0.0.1:1/db"], 3, r"database url"),
    (["data", "import", "--data", "x.csv", "--symbol", "../x", "--timeframe", "d1"], 3, r"`symbol` must be|x.csv"),
    (["data", "import", "--data", "x.csv", "--symbol", "S", "--timeframe", "d0"], 3, r"`timeframe` must be"),
    # freqtrade export: refused before any file is written into --user-data
    (["freqtrade", "export", "--symbol", "../x", "--timeframe", "d1", "--user-data", "ud"], 3, r"`symbol` must be"),
    (["freqtrade", "export", "--symbol", "BTC-USDT", "--timeframe", "1d", "--user-data", "ud"], 3,
     r"`timeframe` must be one of"),
    (["freqtrade", "export", "--symbol", "BTC-USDT", "--timeframe", "d1", "--user-data", "ud", "--min-confidence", "2"],
     3, r"min_confidence` must be in"),
    (["freqtrade", "export", "--symbol", "BTC-USDT", "--timeframe", "d1", "--user-data", "ud", "--pair", "BTCUSDT"],
     3, r"`pair` must be a Freqtrade pair"),
    (["freqtrade", "export", "--symbol", "SPX", "--timeframe", "d1", "--user-data", "ud"], 3, r"pass --pair BASE/QUOTE"),
    # live data adapters: every option is refused before a request is made
    ([*FETCH, "alpaca", "--symbol", "SPY", "--timeframe", "d1"], 3, r"`provider` must be one of"),
    ([*FETCH, "ccxt", "--symbol", "../x", "--timeframe", "h1"], 3, r"`symbol` must"),
    ([*FETCH, "yfinance", "--symbol", "SPY", "--timeframe", "d2"], 3, r"`timeframe` must be one of"),
    ([*FETCH, "yfinance", "--symbol", "SPY", "--timeframe", "d1", "--period", "forever"], 3, r"`period` must"),
    ([*FETCH, "yfinance", "--symbol", "SPY", "--timeframe", "d1", "--gaps", "sometimes"], 3, r"`gaps` must"),
    ([*FETCH, "yfinance", "--symbol", "SPY", "--timeframe", "d1", "--calendar", "MOON"], 3, r"`calendar` must"),
    ([*FETCH, "yfinance", "--symbol", "SPY", "--timeframe", "d1", "--exchange", "binance"], 3, r"`exchange` applies"),
    ([*FETCH, "ccxt", "--symbol", "BTC/USDT", "--timeframe", "h1", "--exchange", "nope"], 3, r"`exchange` must be"),
    (["train", "--source", "web", "--symbol", "S", "--timeframe", "d1"], 3, r"must be db"),
    (["train", "--source", "db", "--dataset", "sp500", "--symbol", "S", "--timeframe", "d1"], 3, r"drop --dataset"),
    (["train", "--source", "db", "--symbol", "../x", "--timeframe", "d1"], 3, r"`symbol` must be"),
    # arguments every command checks before a store is opened (a fresh home stays absent)
    (["registry", "promote", "no such/x", "1"], 3, r"not a candor model \(`symbol` must be"),
    (["registry", "history", "../x/d1"], 3, r"not a candor model \(`symbol` must be"),
    (["registry", "promote", "SPX/d1", "1; drop"], 3, r"`version` must be a version number or an alias"),
    (["registry", "delete", "candor.SPX.d9", "1"], 3, r"not a candor model"),
    (["registry", "compare", "SPX/d1", "2", "--margin", "1.5"], 3, r"`margin` must be in \[0, 1\)"),
    (["registry", "compare", "SPX/d1", "2", "--champion", "../1"], 3, r"`version` must be"),
    (["forecast", "--symbols", "../x", "--timeframes", "d1"], 3, r"`symbol` must be"),
    (["drift", "--symbols", "../x", "--timeframes", "d1"], 3, r"`symbol` must be"),
    (["drift", "--timeframes", "d9"], 3, r"`timeframe` must be one of"),
    (["backtest", "--model", "../x/d1@champion", "--dataset", "sp500"], 3, r"`symbol` must be"),
    (["backtest", "--model", "candor.SPX.d1@1;2", "--dataset", "sp500"], 3, r"`version` must be"),
    (["backtest", "--model", "candor.SPX.d1@champion", "--dataset", "nope"], 3, r"`dataset` must be one of"),
    (["validate", "--dataset", "sp500", "--symbol", "../x"], 3, r"`symbol` must be"),
    (["features", "--dataset", "sp500", "--symbol", "../x"], 3, r"`symbol` must be"),
]


@pytest.mark.parametrize(("argv", "code", "pattern"), OPTION_CASES, ids=[" ".join(c[0])[:60] for c in OPTION_CASES])
def test_bad_options(argv, code, pattern, home, capsys):
    _refused_in_one_line(argv, code, pattern, home, capsys)


def _refused_in_one_line(argv: list[str], code: int, pattern: str, home, capsys) -> str:
    """Run ``argv``: exit ``code``, one error line matching ``pattern``, ``home`` as it was."""
    before = snapshot(home)
    got = main(argv)
    out, err = capsys.readouterr()
    assert got == code, err
    line = _one_line(err, out)
    assert re.search(pattern, line), line
    _nothing_written(home, before)
    return out + err


#: (environment, argv, exit code, pattern): URLs with a password; none may print it, each refused
#: before ``<home>`` is created (a configured database is reached before anything is written)
SECRET = "SECRET"
ENV_CASES = [
    ({"MLFLOW_TRACKING_URI": f"nosuch://u:{SECRET}@host/x"}, ["registry", "list"], 3,
     r"`tracking_uri` 'nosuch://u:\*\*\*@host/x' names no MLflow tracking store"),
    ({"MLFLOW_TRACKING_URI": f"nosuch://u:{SECRET}@host/x"}, ["serve"], 3, r"`tracking_uri` 'nosuch://u:\*\*\*@host/x'"),
    ({"MLFLOW_TRACKING_URI": f"nosuch://u:{SECRET}@host/x"}, ["drift"], 3, r"`tracking_uri`"),
    ({"MLFLOW_TRACKING_URI": f"nosuch://u:{SECRET}@host/x"},
     ["freqtrade", "export", "--symbol", "BTC-USDT", "--timeframe", "d1", "--user-data", "ud"], 3, r"`tracking_uri`"),
    ({"CANDOR_DATABASE_URL": f"nosuch://u:{SECRET}@host/x"}, ["registry", "list"], 3,
     r"database url nosuch://u:\*\*\*@host/x"),
    ({"CANDOR_DATABASE_URL": f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/x"}, ["registry", "list"], 1,
     r"cannot connect to postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/x"),
    ({"CANDOR_DATABASE_URL": f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/x"}, ["schedule", "run", "--once", "drift"],
     1, r"cannot connect to postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/x"),
    # A raw '@' in the password makes SQLAlchemy read 'SECRET@h' as a port (a ValueError quoting it).
    *[({"CANDOR_DATABASE_URL": f"postgresql://u:p@ss:{SECRET}@h/db"}, argv, 3, r"not a valid SQLAlchemy URL")
      for argv in (["db", "current"], ["db", "upgrade"], ["registry", "list"], ["forecast"])],
    ({"CANDOR_DATABASE_URL": f"postgresql://h/db?password={SECRET}"}, ["db", "current"], 1, r"password=\*\*\*"),
]


@pytest.mark.parametrize(("env", "argv", "code", "pattern"), ENV_CASES,
                         ids=[f"{next(iter(c[0]))} {' '.join(c[1])}"[:60] for c in ENV_CASES])
def test_bad_environment(env, argv, code, pattern, home, monkeypatch, capsys):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert SECRET not in _refused_in_one_line(argv, code, pattern, home, capsys)


#: Refusals that need what the stores hold (no such model, no champion): the home's stores exist
#: (``opened_home``) and reading them changes nothing.
STORE_CASES = [
    (["freqtrade", "export", "--symbol", "BTC-USDT", "--timeframe", "d1", "--user-data", "ud"], 1,
     r"no candor schema|no champion"),
    (["registry", "history", "candor.SPX.d1"], 1, r"unknown model 'candor.SPX.d1'"),
    (["registry", "promote", "SPX/d1", "1"], 1, r"unknown model 'candor.SPX.d1'"),
    (["registry", "rollback", "SPX/d1"], 1, r"unknown model 'candor.SPX.d1'"),
    (["backtest", "--model", "candor.SPX.d1@champion", "--dataset", "sp500"], 1, r"unknown model 'candor.SPX.d1'"),
    (["paper", "--symbol", "SPX", "--timeframe", "d1", "--no-registry"], 1, r"no resolved forecasts for SPX/d1"),
]


@pytest.mark.parametrize(("argv", "code", "pattern"), STORE_CASES, ids=[" ".join(c[0])[:60] for c in STORE_CASES])
def test_refusals_that_read_the_stores(argv, code, pattern, opened_home, tmp_path, capsys):
    _refused_in_one_line(argv, code, pattern, opened_home, capsys)
    assert not (tmp_path / "ud").exists()


CONFIG_CASES = [
    ('[evaluation]\nn_boot = 10\n', r"evaluation.n_boot"),
    ('seed = "x"\n', r"seed"),
    ('[labels]\nhorizon = 0\n', r"labels.horizon"),
    ('[labels]\nkind = "maybe"\n', r"labels.kind"),
    ('[split]\nfolds = "five"\n', r"split.folds"),
    ('[split]\npurge = 1\n', r"purge must be >= labels.horizon"),
    ('[models]\nmodels = []\n', r"at least one model"),
    ('[models]\nscaling = "log"\n', r"models.scaling"),
    ('[registry]\nmin_deflated_sharpe = 1.5\n', r"registry.min_deflated_sharpe"),
    ('[registry]\nmax_model_age_days = 0\n', r"registry.max_model_age_days"),
    ('[forecast]\nhorizons = [5, 5]\n', r"distinct positive"),
    ('[forecast]\ncoverage = 1.0\n', r"forecast.coverage"),
    ('[forecast]\ncoverage = 0\n', r"forecast.coverage"),
    ('[forecast]\nmax_model_age_days = 60\n', r"forecast.max_model_age_days|Extra inputs"),
    ('[drift]\nnormal_pts = 30\n', r"normal_pts: the fixed accuracy bands were replaced by a sequential test"),
    ('[drift]\nemergency_false_alarms_per_year = 0.1\n', r"emergency_false_alarms_per_year must be <= "),
    ('[alerts]\nmin_status = "normal"\n', r"alerts.min_status"),
    ('[alerts]\non_emergency = "panic"\n', r"alerts.on_emergency"),
    ('[schedule]\nretrain = "every day"\n', r"schedule.retrain|cron"),
    ('[backtest]\nmin_confidence = 0\n', r"backtest.min_confidence` must be in \(0, 1\]"),
    ('[features]\nshort = 60\nmedium = 20\n', r"short < medium < long"),
    ('[split]\ntrain_size = 500\n', r"`train_size` \(500\) applies only to window = 'rolling'"),
    ('[models]\nmodels = ["rf", "rf"]\n', r"names 'rf' twice"),
    ('[gates]\nmin_accuracy = 0.6\n', r"gates|Extra inputs"),
    ('[unknown]\nx = 1\n', r"unknown|Extra inputs"),
    ('this is not toml\n', r"not valid TOML"),
    ('[api]\nport = 0\n', r"api.port"),
    ('[tracking]\nbackend = "neptune"\n', r"tracking.backend"),
    ('[tracking]\nwandb_project = ""\n', r"tracking.wandb_project"),
    # A misspelt or mistyped secret: named, never echoed (the test below checks SECRET is absent).
    ('[alerts]\nwebhook = "https://hooks.example/T0/SECRET"\n', r"`alerts.webhook` is not a setting.*not shown"),
    ('database_url = ["postgresql://u:SECRET@h/db"]\n', r"`database_url` .*not shown"),
    ('[api]\ntoken = 12345\n', r"api|Extra inputs"),
]


@pytest.mark.parametrize("command", [["train", "--dataset", "sp500"], ["forecast"], ["schedule", "list"]])
@pytest.mark.parametrize(("text", "pattern"), CONFIG_CASES, ids=[c[0].strip()[:30] for c in CONFIG_CASES])
def test_bad_config_files(text, pattern, command, home, tmp_path, capsys):
    path = tmp_path / "candor.toml"
    path.write_text(text)
    before = snapshot(home)
    got = main([*command, "--config", str(path)])
    out, err = capsys.readouterr()
    if command == ["schedule", "list"] and "schedule" not in pattern and got == 0:
        assert snapshot(home) == before  # `schedule list` reads only the schedule section's cron lines
        return  # and the config's validity
    assert got == 3, err
    line = _one_line(err, out)
    assert re.search(pattern, line), line
    assert "SECRET" not in err + out and "12345" not in err + out
    _nothing_written(home, before)


REGISTRY_NAMES = ["../etc", "SPX", "candor.", "candor.SPX", "candor.SPX.d1; drop", "SP X/d1", ""]


@pytest.mark.parametrize("name", REGISTRY_NAMES)
@pytest.mark.parametrize("verb", ["history", "promote", "rollback", "reconcile"])
def test_bad_registry_references(verb, name, migrated_home, capsys):
    """On a home after ``candor db upgrade`` (a copy of one migrated once): the name is refused
    before the services are opened, which would add mlflow.db to the home."""
    before = snapshot(migrated_home)
    argv = ["registry", verb, name] + (["1"] if verb == "promote" else [])
    got = main(argv)
    out, err = capsys.readouterr()
    assert got in (1, 3), err
    assert got == 3, err  # an invalid name is a bad argument (InvalidNameError), not a registry refusal
    _one_line(err, out)
    _nothing_written(migrated_home, before)


@pytest.fixture(scope="module")
def api_client(tmp_path_factory):
    from candor.api import create_app
    from candor.config import load_config
    from candor.services import open_services

    from tests.templates import seed_home

    home = seed_home(tmp_path_factory.mktemp("api-home"), tmp_path_factory)  # migrated empty stores, not built here
    config = load_config(environ={}, overrides={"home": str(home), "api": {"token": "t0ken"}})
    with open_services(config, migrate=True) as services, TestClient(create_app(services)) as client:
        yield client


API_CASES = [
    ("get", "/api/models/../x/d1", None, (404, 422)),
    ("get", "/api/models/PLANT/d9", None, (404, 422)),
    ("get", "/api/models/plant/d1", None, (404, 422)),
    ("get", "/api/forecasts?symbol=%00", None, (422,)),
    ("get", "/api/forecasts?start=2024-13-01", None, (422,)),
    ("get", "/api/forecasts?horizon=-1", None, (422,)),
    ("get", "/api/drift?since=yesterday", None, (422,)),
    ("get", "/api/training-runs?limit=-5", None, (422,)),
    ("post", "/api/predict", {"symbol": "SPX"}, (401, 422)),
    ("post", "/api/registry/candor.SPX.d1/promote", {"version": "1"}, (401,)),
    ("post", "/api/registry/..%2Fetc/rollback", {}, (401, 404, 422)),
    ("post", "/api/registry/candor.SPX.d1/promote", "not json", (401, 422)),
    ("get", "/api/models/PLANT/d1?horizon=0", None, (422,)),
    ("get", "/models/PLANT/d1?horizon=abc", None, (422,)),
    ("get", "/forecasts/PLANT/d1?horizon=3", None, (404,)),
    ("post", "/api/registry/candor.SPX.d1.h5/rollback", {}, (401, 422)),
    ("post", "/api/registry/candor.SPX.d1.h0/rollback", {}, (401, 422)),
]


@pytest.mark.parametrize(("method", "url", "body", "statuses"), API_CASES, ids=[f"{c[0]} {c[1]}" for c in API_CASES])
def test_bad_api_requests(api_client, method, url, body, statuses):
    kwargs = {} if body is None else ({"content": body} if isinstance(body, str) else {"json": body})
    response = getattr(api_client, method)(url, **kwargs)
    assert response.status_code in statuses, response.text
    assert "Traceback" not in response.text
