"""SIGKILL at random moments during promote/rollback never breaks the champion or the audit trail.

Each round forks a child (from a forkserver that preloaded MLflow, so a round costs a fork, not
a 2-second import) that promotes and rolls back validated versions in a loop, kills it with
SIGKILL after a random delay, and checks: exactly one champion, it is validated, and after
``reconcile`` every alias's audit chain is continuous and ends where the alias points — with
interrupted moves rolled forward, never merely papered over.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import time

import registry_kill_worker
import sqlalchemy as sa
from registry_helpers import registered, report

from candor.registry import CHAMPION, PREVIOUS, Registry
from candor.store import alias_events

NAME = "candor.SPX.d1"
ROUNDS = 20


def _check_invariants(registry: Registry, stores) -> list:
    engine = sa.create_engine(stores.uri)  # MLflow's own table: one row per (model, alias)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT version FROM registered_model_aliases "
                                          "WHERE name = :n AND alias = 'champion'"), {"n": NAME}).all()
    engine.dispose()
    assert len(rows) == 1, rows
    champion = stores.client.get_model_version_by_alias(NAME, CHAMPION)
    assert str(champion.version) == str(rows[0][0]) and champion.tags["status"] == "validated"
    fixes = registry.reconcile(NAME)
    assert all(fix.kind == "rolled_forward" for fix in fixes), fixes
    actual = {k: str(v) for k, v in stores.client.get_registered_model(NAME).aliases.items()}
    for alias in (CHAMPION, PREVIOUS):
        trail = alias_events(stores.engine, NAME, alias)
        assert trail[-1].to_version == actual.get(alias)
        for before, after in zip(trail, trail[1:]):
            assert after.from_version == before.to_version, (alias, before.id, after.id)
    assert registry.reconcile(NAME) == []
    return fixes


def test_sigkill_during_promote_and_rollback(stores, tmp_path, monkeypatch):
    registry = Registry(stores.client, stores.engine)
    for i in (1, 2, 3):
        registered(registry, stores, tmp_path / f"v{i}")
    registered(registry, stores, tmp_path / "v4", rep=report(0.5))
    registry.promote(NAME, "1", actor="setup")
    registry.promote(NAME, "2", actor="setup")
    # Python 3.11's forkserver ignores the parent's sys.path when preloading: pass it by environment.
    here = os.path.dirname(registry_kill_worker.__file__)
    for suffix, key in (("mlflow", "CANDOR_KILL_WARM_MLFLOW"), ("candor", "CANDOR_KILL_WARM_STORE")):
        shutil.copy(stores.home / f"{suffix}.db", tmp_path / f"warm-{suffix}.db")
        monkeypatch.setenv(key, str(tmp_path / f"warm-{suffix}.db"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["registry_kill_worker", "candor.registry", "candor.store"])
    rng = random.Random(2026)
    ops = rolled_forward = 0
    for round_ in range(ROUNDS):
        ready, done = ctx.Event(), ctx.Value("i", 0, lock=False)
        child = ctx.Process(target=registry_kill_worker.churn,
                            args=(stores.uri, stores.db_url, NAME, round_, ready, done), daemon=True)
        child.start()
        assert ready.wait(60), "worker never connected"
        time.sleep(rng.uniform(0.0, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        assert child.exitcode == -signal.SIGKILL, "the worker must die by SIGKILL mid-loop, not exit"
        ops += done.value
        rolled_forward += len(_check_invariants(registry, stores))
    # Coverage, not luck: some kills must have interrupted a move between its audit row and the
    # champion reassign (typically a third of the rounds), or this test would prove nothing.
    assert rolled_forward >= 1, f"no kill interrupted a move ({ops} operations completed)"
    print(f"{ROUNDS} kills, {ops} completed operations, {rolled_forward} interrupted moves rolled forward")

