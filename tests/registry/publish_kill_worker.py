"""Child process for the publish kill test: `train --promote`'s publish, SIGKILLed at a named step.

The training itself is the parent's, done once and pickled (``train`` is replaced by it): each
child runs the real :func:`candor.application.train.run_training` from there on — repair, save,
log, register, validate, record, keep, promote — and kills itself where ``step`` says. Lives in
its own importable module so the forkserver preloads it (MLflow, candor) once.
"""

from __future__ import annotations

import functools
import os
import pickle
import signal
from types import SimpleNamespace
from typing import Any

import mlflow.store.db.utils as _db_utils

import candor.application.train as workflow
import candor.registry.aliases as aliases
import candor.registry.artifact as artifact
import candor.registry.publish as publishing
import candor.registry.tracking as tracking
from candor.registry.registry import Registry

# MLflow re-parses its migration files on every client to find the schema head: once, here.
_db_utils._get_latest_schema_revision = functools.cache(_db_utils._get_latest_schema_revision)
_db_utils._get_latest_schema_revision()


def _die(*args: Any, **kwargs: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


#: Step → (what was written when the kill lands, how the worker is armed to die there).
STEPS = {
    "save": "inside save_model: its temporary folder made, nothing renamed",
    "log": "mid log_training: the run created, params and metrics logged, no artifacts",
    "register": "run logged and finished, no version registered",
    "validate": "version registered (staged), gates not run, no training_runs row",
    "record": "version validated, no training_runs row",
    "keep": "row recorded, artifact still in its staging folder",
    "promote": "champion move written to the audit trail, alias not moved",
}


def _arm(step: str) -> None:
    if step == "save":
        artifact.gzip = SimpleNamespace(compress=_die)
    elif step == "log":
        tracking.write_run_files = _die
    elif step == "register":
        Registry.register = _die
    elif step == "validate":
        Registry.validate = _die
    elif step == "record":
        publishing.record_training_run = _die
    elif step == "keep":
        publishing.os = SimpleNamespace(replace=_die)
    elif step == "promote":
        aliases._set_alias = _die
    else:
        raise ValueError(step)


def publish_and_die(result_path: str, config: Any, step: str) -> None:
    """Publish the pickled training with ``promote=True``; die at ``step``."""
    with open(result_path, "rb") as handle:
        result, bars = pickle.load(handle)
    workflow.train = lambda *args, **kwargs: result
    _arm(step)
    workflow.run_training(bars, config, promote=True)
    raise SystemExit(f"the worker published without reaching {step!r}")
