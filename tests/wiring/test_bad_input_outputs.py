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
from tests.templates import seed_home
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


# ------------------------------------------------- items 2 and 6: an unreachable tracking server
@pytest.fixture
def bounded_http(monkeypatch):
    """MLflow's HTTP limits start unset (as for a user) and are unset again afterwards."""
    from candor.registry.tracking import HTTP_LIMITS

    for name in HTTP_LIMITS:
        monkeypatch.setenv(name, "0")
        monkeypatch.delenv(name)
    return HTTP_LIMITS


@pytest.mark.parametrize("uri", [f"http://u:{SECRET}@127.0.0.1:9", "http://127.0.0.1:9",
                                 f"postgresql://u:{SECRET}@127.0.0.1:9/x",
                                 f"postgresql+psycopg://u@127.0.0.1:9/x?password={SECRET}"])
def test_an_unreachable_tracking_server_is_one_line_in_seconds(uri, home, bounded_http, monkeypatch, capsys):
    """Closed port: MLflow retried for 246 s (HTTP) / 103 s (PostgreSQL), then a traceback quoting
    the password. Now the probe refuses before <home> is created."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    started = time.monotonic()
    text = _refused_in_one_line(["registry", "list"], 1, r"cannot reach the MLflow tracking store .*127\.0\.0\.1:9",
                                home, capsys)
    assert time.monotonic() - started < 8
    assert SECRET not in text


def test_an_unreachable_tracking_server_refuses_before_training(trained, home, bounded_http, monkeypatch, capsys):
    _, csv = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://u:{SECRET}@127.0.0.1:9")
    text = _refused_in_one_line(["train", "--data", str(csv), "--symbol", "PLANT", "--timeframe", "d1",
                                 "--calendar", "24/7", "--models", "logreg", "--folds", "3", "--fold-jobs", "1"],
                                1, r"cannot reach the MLflow tracking store http://u:\*\*\*@127\.0\.0\.1:9", home, capsys)
    assert SECRET not in text and "walk-forward" not in text


def test_a_server_that_drops_every_request_fails_in_seconds(home, bounded_http, monkeypatch, capsys):
    """The port answers (the probe passes), then every request is cut: MLflow's retries are
    bounded (2 retries, backoff 1) and its error — which quotes the URL — is printed masked."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def drop() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            connection.close()

    thread = threading.Thread(target=drop, daemon=True)
    thread.start()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://u:{SECRET}@127.0.0.1:{port}")
    try:
        started = time.monotonic()
        code = main(["registry", "list"])
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join()
        listener.close()
    out, err = capsys.readouterr()
    line = _one_line(err, out)
    assert code == 1 and SECRET not in out + err and f"127.0.0.1:{port}" in line, line
    assert elapsed < 20, elapsed
    assert all(os.environ[name] == value for name, value in bounded_http.items())


# ------------------------------------------------ item 9: outputs that pass a naive check, then fail
#: /proc/nope: /proc is a directory root may "write" (os.access says yes) where no file can be made.
PROC_CASES = {
    "train --output-json": ["train", "--dataset", "sp500", "--models", "logreg", "--output-json", "/proc/nope/r.json"],
    "train --out": ["train", "--dataset", "sp500", "--models", "logreg", "--out", "/proc/nope"],
    "backtest --plot": ["backtest", "--model", "candor.SPX.d1@champion", "--dataset", "sp500", "--plot",
                        "/proc/nope/p.png"],
    "backtest --trades": ["backtest", "--model", "candor.SPX.d1@champion", "--dataset", "sp500", "--trades",
                          "/proc/nope/t.csv"],
    "freqtrade export --user-data": ["freqtrade", "export", "--symbol", "BTC-USDT", "--timeframe", "d1",
                                     "--user-data", "/proc/nope"],
}


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
@pytest.mark.parametrize("case", list(PROC_CASES))
def test_an_output_no_file_can_be_made_in_is_refused_before_the_work(case, home, capsys):
    flag = PROC_CASES[case][-2]
    _refused_in_one_line(PROC_CASES[case], 3, rf"`{flag}` cannot be written: '/proc'", home, capsys)


def test_the_writability_check_leaves_the_folder_as_it_was(tmp_path):
    from candor.outputs import check_writable

    folder = tmp_path / "out"
    folder.mkdir()
    before = snapshot(folder)
    check_writable(folder / "new" / "deeper", "--out")
    assert snapshot(folder) == before


def _block_after(monkeypatch, target: str, blocker):
    """Wrap ``target`` (module:function, imported by the command when it runs) so that once the
    work is done ``blocker`` — the output's folder — is a file: the write itself must fail."""
    import importlib

    module_name, _, name = target.partition(":")
    module = importlib.import_module(module_name)
    real = getattr(module, name)

    def work_then_block(*args, **kwargs):
        result = real(*args, **kwargs)
        blocker.write_text("in the way")
        return result

    monkeypatch.setattr(module, name, work_then_block)


@pytest.mark.parametrize("flag", ["--output-json", "--plot", "--trades"])
def test_a_backtest_output_that_fails_to_write_is_one_line_after_the_work(flag, trained, tmp_path, monkeypatch,
                                                                          capsys):
    artifact, csv = trained
    monkeypatch.setenv("CANDOR_HOME", str(tmp_path / "home"))
    _block_after(monkeypatch, "candor.backtest.replay:replay", tmp_path / "out")
    target = tmp_path / "out" / "file"
    code = main(_backtest(artifact, csv, "--start", "2011-06-01", "--allow-overlap", flag, str(target)))
    out, err = capsys.readouterr()
    line = _one_line(err, out)
    assert code == 1 and "could not be written to" in line and str(target) in line, line
    assert (tmp_path / "out").read_text() == "in the way"  # nothing half-written beside it either
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_train_report_that_fails_to_write_is_one_line_after_the_work(trained, tmp_path, monkeypatch, capsys):
    _, csv = trained
    monkeypatch.setenv("CANDOR_HOME", str(tmp_path / "home"))
    _block_after(monkeypatch, "candor.application.train:run_training", tmp_path / "out")
    code = main(["train", "--data", str(csv), "--symbol", "PLANT", "--timeframe", "d1", "--calendar", "24/7",
                 "--models", "logreg", "--folds", "3", "--fold-jobs", "1", "--dry-run",
                 "--output-json", str(tmp_path / "out" / "r.json")])
    out, err = capsys.readouterr()
    line = _one_line(err, out)
    assert code == 1 and "report (the training itself finished) could not be written" in line, line


def test_write_atomic_keeps_the_old_file_and_no_temporary_when_the_write_fails(tmp_path):
    from candor.errors import OutputError
    from candor.outputs import write_text_atomic

    from candor.outputs import _umask

    folder = tmp_path / "outputs"
    target = write_text_atomic(folder / "r.json", "old")
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()  # as open() makes it, not mkstemp's 0600

    def fail(temporary):
        temporary.write_text("half")
        raise OSError(28, "No space left on device")

    from candor.outputs import write_atomic

    with pytest.raises(OutputError, match=r"could not be written to .*r\.json': No space left on device"):
        write_atomic(target, fail)
    assert target.read_text() == "old" and sorted(p.name for p in folder.iterdir()) == ["r.json"]


def test_an_artifact_folder_that_refuses_files_is_a_one_line_model_error(trained, tmp_path):
    from candor.errors import ModelError
    from candor.registry.artifact import load_model, save_model

    artifact, _ = trained
    loaded = load_model(artifact)
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(ModelError, match=r"could not be written to .*blocker/model.*nothing was saved"):
        save_model(tmp_path / "blocker" / "model", loaded.estimator, loaded.manifest)


# ------------------------------------------------- item 3: a study storage with ?password=
def test_a_study_storage_password_is_in_nothing_train_writes_or_prints(trained, home, tmp_path, tmp_path_factory,
                                                                      capsys):
    """``--study-storage '…?password=SECRET'`` (libpq reads it): the manifest, the MLflow params and
    run files, the report JSON and the terminal show ``password=***``; no file under <home> holds it."""
    _, csv = trained
    seed_home(home, tmp_path_factory)  # copies of the migrated empty stores, written by the training as new ones
    storage = f"sqlite:///{tmp_path / 'optuna.db'}?password={SECRET}"
    code = main(["train", "--data", str(csv), "--symbol", "PLANT", "--timeframe", "d1", "--calendar", "24/7",
                 "--models", "logreg", "--folds", "3", "--fold-jobs", "1", "--optimize", "--trials", "1",
                 "--study-storage", storage, "--output-json", str(tmp_path / "report.json")])
    out, err = capsys.readouterr()
    assert code in (0, 2), err
    assert SECRET not in out + err + (tmp_path / "report.json").read_text()
    manifests = list((home / "models").rglob("manifest.json"))
    assert manifests and all("optuna.db?password=***" in m.read_text() for m in manifests)
    leaks = [str(p) for p in home.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaks == []

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("candor").experiment_id])
    params = runs[0].data.params
    assert params["tune.study_storage"].endswith("optuna.db?password=***") and SECRET not in repr(params)


@pytest.mark.parametrize("storage", [f"postgresql://u@127.0.0.1:9/x?password={SECRET}",
                                     f"postgresql+psycopg://u:p@ss:{SECRET}@127.0.0.1/x",  # a raw '@'
                                     f"postgresql://u:{SECRET}@127.0.0.1:notaport/x",
                                     f"garbage:{SECRET}"])  # no scheme://: nothing of it is shown
def test_a_study_storage_error_line_never_prints_its_password(storage, trained, capsys):
    _, csv = trained
    code = main(["tune-worker", "--study-storage", storage, "--data", str(csv), "--symbol", "PLANT",
                 "--timeframe", "d1", "--calendar", "24/7", "--model", "logreg", "--trials", "1"])
    out, err = capsys.readouterr()
    line = _one_line(err, out)
    assert code == 1 and "`study_storage`" in line and "cannot be opened" in line, line
    assert SECRET not in out + err
