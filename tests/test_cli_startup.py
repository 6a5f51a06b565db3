"""The CLI starts without the library: `candor --help`, an option error and `candor validate` load
only what they use (issue 21, item 6: "start fast").

Structural, not timed: each case runs in a fresh interpreter and lists the heavy modules it
imported. A module-level import of the config, the services, MLflow or scikit-learn in any
``candor/cli/*.py`` makes ``--help`` pay seconds again and fails here by name.
``benchmarks/startup.py`` has the timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

#: Never loaded by ``import candor.cli``, ``--help`` or an option error: the library, its stores and
#: the web stack (together about 6 s and 400 MB before the commands imported them lazily).
NOT_AT_START = (
    "mlflow", "sklearn", "scipy", "pandas", "numpy", "sqlalchemy", "alembic", "lightgbm", "xgboost",
    "optuna", "joblib", "fastapi", "starlette", "uvicorn", "apscheduler", "exchange_calendars",
    "candor.config", "candor.data", "candor.registry", "candor.services", "candor.store",
    "candor.training", "candor.application", "candor.api", "candor.ops", "candor.backtest",
)

#: ``candor validate`` reads and checks a file of bars: pandas yes; the stores, the model and the
#: tracking stack no.
NOT_FOR_VALIDATE = (
    "mlflow", "sklearn", "sqlalchemy", "lightgbm", "xgboost", "optuna", "fastapi", "uvicorn", "apscheduler",
    "candor.registry", "candor.services", "candor.store", "candor.training", "candor.application",
    "candor.api", "candor.ops",
)

_PROBE = """
import json, sys
from candor.cli import main
code = main(json.loads(sys.argv[1]))
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _run(argv: list[str], tmp_path) -> tuple[int, set[str]]:
    """``main(argv)`` in a fresh interpreter: its exit code and every module it imported."""
    result = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120,
                            env={**os.environ, "CANDOR_HOME": str(tmp_path / "home"), "MLFLOW_DISABLE_TELEMETRY": "true"})
    assert result.stdout.strip(), result.stderr
    document = json.loads(result.stdout.strip().splitlines()[-1])
    return document["code"], set(document["modules"])


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The packages of ``names`` that were imported (a package counts when any submodule was)."""
    return sorted(name for name in names if any(m == name or m.startswith(name + ".") for m in modules))


@pytest.mark.parametrize("argv, code", [
    (["--help"], 0),
    (["train", "--help"], 0),
    (["registry", "promote", "--help"], 0),
    (["serve", "--help"], 0),
    (["train", "--folds", "x"], 3),   # an option error: click refuses it before the command runs
    (["serve", "--workers", "0"], 3),
    (["no-such-command"], 3),
], ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_help_and_option_errors_import_no_library(argv, code, tmp_path):
    exit_code, modules = _run(argv, tmp_path)
    assert exit_code == code
    assert _loaded(modules, NOT_AT_START) == []
    assert not (tmp_path / "home").exists()  # and nothing was created


def test_validate_reads_bars_without_the_model_and_tracking_stack(tmp_path):
    from candor.data.synthetic import random_walk

    random_walk(400, seed=3, symbol="RW").to_csv(tmp_path / "bars.csv")
    exit_code, modules = _run(["validate", "--data", str(tmp_path / "bars.csv"), "--calendar", "24/7"], tmp_path)
    assert exit_code == 0
    assert "pandas" in modules  # it did read the bars
    assert _loaded(modules, NOT_FOR_VALIDATE) == []
