"""kill -9 at each step of `train --promote`'s publish: what it leaves, and `registry reconcile` repairing it.

One training (module fixture) is pickled once; each step forks a child (forkserver, MLflow and
candor preloaded) that runs the real ``run_training(..., promote=True)`` on it and SIGKILLs
itself at that step (:data:`publish_kill_worker.STEPS`). The test checks the kill left what the
step says — so it really landed there — then runs ``candor registry reconcile`` and checks that
nothing half-written is left: no staging folder, no run RUNNING or still ``publishing``, every
version with its ``training_runs`` row (or failed as incomplete), the aliases where the trail says.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import signal

import publish_kill_worker
import pytest
import sqlalchemy as sa

from candor.cli import main
from candor.config import load_config
from candor.data.synthetic import planted_signal
from candor.errors import RegistryError
from candor.registry import CHAMPION
from candor.registry.common import PUBLISH_STATE
from candor.services import open_services
from candor.store.schema import TrainingRun

NAME = "candor.PLANT.d1"
LENIENT = {"min_accuracy": 0.0, "min_precision": 0.0, "min_recall": 0.0, "min_f1": 0.0, "require_edge": False,
           "min_backtest_sharpe": None, "min_backtest_trades": None, "min_deflated_sharpe": None}
LENIENT_TOML = {**{k: v for k, v in LENIENT.items() if v is not None},
                "min_backtest_sharpe": -100.0, "min_backtest_trades": 0, "min_deflated_sharpe": 0.0}


def _config(home):
    return load_config(environ={}, overrides={
        "home": str(home), "models": {"models": ["logreg"]}, "split": {"folds": 3},
        "evaluation": {"importance_repeats": 0, "n_boot": 100},
        "registry": LENIENT})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One training's result and bars, pickled for the children (trained once for every step)."""
    from candor.application.train import run_training

    bars = planted_signal(700, seed=2)
    result = run_training(bars, _config(tmp_path_factory.mktemp("kill-train")), dry_run=True).result
    path = tmp_path_factory.mktemp("kill-result") / "result.pkl"
    path.write_bytes(pickle.dumps((result, bars)))
    return str(path)


def _left(services, home):
    """What is on disk and in the stores now: staging folders, runs, versions, rows, aliases."""
    client = services.tracking.client
    runs = client.search_runs([services.tracking.experiment_id])
    versions = client.search_model_versions(f"name = '{NAME}'")
    with services.engine.connect() as connection:
        rows = {v for (v,) in connection.execute(sa.select(TrainingRun.model_version))}
    aliases = dict(client.get_registered_model(NAME).aliases) if versions else {}
    return {
        "staging": sorted(p.name for p in (home / "models").glob("*/*/*.staging-*")),
        "runs": sorted((r.info.status, r.data.tags.get(PUBLISH_STATE)) for r in runs),
        "versions": {str(v.version): (v.tags["status"], str(v.version) in rows) for v in versions},
        "champion": None if CHAMPION not in aliases else str(aliases[CHAMPION]),
    }


#: step → (staging folders left, runs (status, publish state), versions {v: (status, has row)})
LEFT = {
    "save": (1, [], {}),
    "log": (1, [("RUNNING", "publishing")], {}),
    "register": (1, [("FINISHED", "publishing")], {}),
    "validate": (1, [("FINISHED", "publishing")], {"1": ("staged", False)}),
    "record": (1, [("FINISHED", "publishing")], {"1": ("validated", False)}),
    "keep": (1, [("FINISHED", "publishing")], {"1": ("validated", True)}),
    "promote": (0, [("FINISHED", "published")], {"1": ("validated", True)}),
}
#: step → what `registry reconcile` must say it did (one fragment per repair)
REPAIRED = {
    "save": ["staging folder of dead process", "removed"],
    "log": ["still RUNNING", "marked KILLED and interrupted", "removed"],
    "register": ["FINISHED, never registered", "marked KILLED and interrupted", "removed"],
    "validate": ["no training_runs row — row completed", "never judged by the gates (staged) — gates run: validated",
                 "staged artifact of a registered version — moved into place"],
    "record": ["no training_runs row — row completed", "moved into place"],
    "keep": ["staged artifact of a registered version — moved into place"],
    "promote": ["champion rolled_forward none → 1"],
}


@pytest.mark.parametrize("step", list(publish_kill_worker.STEPS))
def test_a_kill_at_each_publish_step_is_found_and_repaired(step, trained, tmp_path, store_templates, monkeypatch,
                                                           capsys):
    home = tmp_path / "home"
    home.mkdir()
    for template in store_templates:
        shutil.copy(template, home / template.name)
    for key in ("MLFLOW_TRACKING_URI", "CANDOR_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CANDOR_HOME", str(home))
    monkeypatch.chdir(tmp_path)  # `registry reconcile` judges a staged version with the training's gates
    (tmp_path / "candor.toml").write_text("[registry]\n" + "".join(
        f"{k} = {str(v).lower() if isinstance(v, bool) else v}\n" for k, v in LENIENT_TOML.items()))
    here = os.path.dirname(publish_kill_worker.__file__)  # the forkserver imports the worker by path
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["publish_kill_worker"])
    config = _config(home)

    child = ctx.Process(target=publish_kill_worker.publish_and_die, args=(trained, config, step), daemon=True)
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL, f"the worker must die by SIGKILL at {step!r}, got {child.exitcode}"

    with open_services(config) as services:
        left = _left(services, home)
        staging, runs, versions = LEFT[step]
        assert (len(left["staging"]), left["runs"], left["versions"]) == (staging, runs, versions), left
        if step == "record":  # validated but never recorded: not promotable until repaired
            with pytest.raises(RegistryError, match="still being published"):
                services.registry.promote(NAME, "1", actor="test")

    assert main(["registry", "reconcile", NAME]) == 0
    said = capsys.readouterr().out
    for fragment in REPAIRED[step]:
        assert fragment in " ".join(said.split()), (step, said)

    with open_services(config) as services:
        after = _left(services, home)
    assert after["staging"] == [] and all(state != "publishing" and status != "RUNNING"
                                          for status, state in after["runs"]), after
    assert all(row and status == "validated" for status, row in after["versions"].values()), after
    if versions:  # the model the kill interrupted is kept where its publish would have put it
        assert len(list((home / "models" / "PLANT" / "d1").glob("2*/manifest.json"))) == 1
    assert after["champion"] == ("1" if step == "promote" else None)
    # Repaired once, nothing left the second time (a name never registered stays an unknown model).
    assert main(["registry", "reconcile", NAME]) == (0 if versions else 1)
    again = capsys.readouterr()
    assert ("no interrupted publish left anything behind" in again.out and "agree" in again.out if versions
            else "unknown model" in again.err), again
