"""Helpers for the ops tests: tiny configs, a deliberately bad model, a local webhook receiver."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from candor.config import Config, load_config

LENIENT = {"min_accuracy": 0.0, "min_precision": 0.0, "min_recall": 0.0, "min_f1": 0.0, "require_edge": False,
           "min_backtest_sharpe": None, "min_backtest_trades": None, "min_deflated_sharpe": None}


def tiny_config(home: Path, database_url: str, **sections: Any) -> Config:
    """Fast training (logreg, 3 folds, no importance) and gates that every tiny model passes."""
    base: dict[str, Any] = {
        "home": str(home), "database_url": database_url,
        "models": {"models": ["logreg"]}, "split": {"folds": 3},
        "evaluation": {"importance_repeats": 0, "n_boot": 100},
        "features": {"medium": 30, "long": 60}, "registry": LENIENT,
        # the job's wiring is under test here, not abstention (tests/api/test_forecast_sets.py)
        "forecast": {"abstain_without_edge": False, "abstain_on_wide_sets": False},
    }
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return load_config(None, base, environ={})


class AlwaysNeutral(ClassifierMixin, BaseEstimator):
    """A broken 'model' that always says NEUTRAL with 90% confidence (rare under ±0.2% labels)."""

    def fit(self, X: Any, y: Any) -> AlwaysNeutral:
        self.classes_ = np.array([-1, 0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.tile([0.05, 0.9, 0.05], (len(X), 1))

    def predict(self, X: Any) -> np.ndarray:
        return np.zeros(len(X), dtype=int)


def register_estimator(registry: Any, tracking: Any, champion: Any, estimator: Any, folder: Path,
                       *, manifest_changes: dict[str, Any] | None = None, promote: bool = True) -> str:
    """Register ``estimator`` with (a copy of) the champion's manifest and run tags; maybe promote."""
    from candor.registry.artifact import save_model

    artifact = save_model(folder, estimator, champion.model.manifest.model_copy(update=manifest_changes or {}))
    keep = ("holdout_start", "holdout_end", "holdout_rows", "label_spec")
    run = tracking.client.create_run(tracking.experiment_id, tags={k: v for k, v in champion.tags.items() if k in keep})
    tracking.client.log_artifacts(run.info.run_id, str(artifact), "model")
    tracking.client.set_terminated(run.info.run_id)
    version = registry.register(run.info.run_id, artifact)
    registry.validate(version.name, version.version)
    if promote:
        registry.promote(version.name, version.version, actor="test")
    return version.version


@dataclass
class Receiver:
    """What the local webhook server got; ``fail_first`` answers that many requests with HTTP 500."""

    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    fail_first: int = 0


def start_receiver(fail_first: int = 0) -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver(url="", fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.attempts += 1
            if receiver.attempts <= receiver.fail_first:
                self.send_response(500)
                self.end_headers()
                return
            receiver.posts.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server


def day_after(bars: pd.DataFrame, hours: int = 1) -> pd.Timestamp:
    """A 'now' just after the newest 24/7 d1 bar closed (so it is not stale)."""
    return (bars.index[-1] + pd.Timedelta(days=1, hours=hours)).to_pydatetime()
