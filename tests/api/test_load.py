"""The service under load, as a real ``candor serve`` process on 127.0.0.1 (a free port): slow
clients, 100 concurrent connections, reads while ``candor registry promote`` runs in another
process, and a promotion while the forecast job runs. Every test is bounded and stops itself."""

from __future__ import annotations

import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

READ_PATHS = ["/api/models", "/", "/api/forecasts", "/api/training-runs", "/api/drift", "/models/PLANT/d1"]
CLI = "from candor.cli import main; raise SystemExit(main())"


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "CANDOR_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true", "OMP_NUM_THREADS": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("CANDOR_API_TOKEN", None)
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served_home(trained, tmp_path_factory) -> Path:
    """One copy of the trained home for this module's server (the promote test moves its champion;
    the other server tests only read, whichever champion it is)."""
    import shutil

    home = tmp_path_factory.mktemp("load-home")
    for name in ("candor.db", "mlflow.db"):
        shutil.copy(trained.home / name, home / name)
    return home


@pytest.fixture(scope="module")
def server(served_home, tmp_path_factory):
    """``candor serve`` on the copied home; yields its base URL; terminated after the module.

    One process for the module: starting ``candor serve`` costs its imports (seconds, tens of
    seconds on a loaded machine) and each test here is about how a running server behaves."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-c", CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
                               env=_env(served_home), cwd=tmp_path_factory.mktemp("serve-cwd"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "candor serve did not answer /healthz within 60 s"
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


# ``candor registry promote`` in its own process, forked from a primed parent: one parent for the
# module imports the CLI, the registry and the MLflow client and stores the registry opens lazily,
# says "ready", and for each JSON line on stdin forks a child that runs the real ``main()`` on that
# argv (its home and working folder set, its output to a log file) and exits as any process does;
# the parent answers "exit <code>" once the child has exited. The reads or forecast runs then
# overlap the promote itself (~0.2 s alone) — the moment the tests are about — instead of imports:
# MLflow's, left to the promote, were ~2 s alone and ~10 s under four readers on 2 cores, and a
# primed process per test paid the ~3 s of imports once per test. Each child starts from the parent's
# pristine state (the parent never runs a command), so nothing leaks from one test's promote to the next.
FORK_PARENT = """
import json, os, sys
from candor.cli import main
import candor.config, candor.services, candor.registry.common, candor.registry.compare
import candor.registry.tracking, candor.registry.direct, mlflow
import mlflow.store.tracking.sqlalchemy_store, mlflow.store.model_registry.sqlalchemy_store
print("ready", flush=True)
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ["CANDOR_HOME"] = job["home"]
        os.chdir(job["cwd"])
        raise SystemExit(main(job["argv"]))
    print("exit", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


class Promotes:
    """The forking parent above: ``start`` one ``candor registry promote`` (a new process),
    ``exited`` polls, ``wait`` returns its exit code, ``log`` what it printed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.process = subprocess.Popen([sys.executable, "-c", FORK_PARENT], env=_env(folder), cwd=folder,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.code: int | None = None
        self.log_path = folder / "none.log"

    def ready(self) -> None:
        if self._line(timeout=120) != "ready":
            raise AssertionError(self.process.stderr.read()[-2000:] if self.process.poll() is not None else "")

    def _line(self, timeout: float) -> str:
        if not select.select([self.process.stdout], [], [], timeout)[0]:
            raise AssertionError(f"no answer from the promote within {timeout} s: {self.log()}")
        return self.process.stdout.readline().strip()

    def log(self) -> str:
        return self.log_path.read_text()[-2000:] if self.log_path.exists() else ""

    def start(self, home: Path, cwd: Path, *args: str) -> None:
        self.code, self.log_path = None, cwd / "promote.log"
        job = {"home": str(home), "cwd": str(cwd), "log": str(self.log_path), "argv": ["registry", "promote", *args]}
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()

    def exited(self) -> bool:
        if self.code is None and select.select([self.process.stdout], [], [], 0)[0]:
            self.wait()
        return self.code is not None

    def wait(self, timeout: float = 120) -> int:
        if self.code is None:
            answer = self._line(timeout)
            assert answer.startswith("exit "), (answer, self.log())
            self.code = int(answer.split()[1])
        return self.code

    def close(self) -> None:  # the parent never ran a command: nothing of its own to finish
        self.process.stdin.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def promotes(tmp_path_factory):
    parent = Promotes(tmp_path_factory.mktemp("promotes"))
    try:
        parent.ready()
        yield parent
    finally:
        parent.close()


async def _get_all(base: str, paths: list[str], connections: int) -> list[int]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        responses = await asyncio.gather(*(client.get(p) for p in paths))
    return [r.status_code for r in responses]


def test_100_concurrent_connections_all_answer(server):
    paths = [READ_PATHS[i % len(READ_PATHS)] for i in range(100)]
    started = time.monotonic()
    statuses = asyncio.run(asyncio.wait_for(_get_all(server, paths, 100), timeout=120))
    assert statuses == [200] * 100, sorted(set(statuses))
    assert time.monotonic() - started < 120


def test_slow_clients_do_not_hold_up_the_others(server):
    """Ten clients that send half a request and stall, and one that never reads its 60 kB answer,
    must not keep a normal client from being served promptly."""
    port = int(server.rsplit(":", 1)[1])
    stalled = []
    try:
        for _ in range(10):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"GET /api/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # headers never end
            stalled.append(sock)
        reader = socket.create_connection(("127.0.0.1", port), timeout=5)
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        reader.sendall(b"GET /api/forecasts HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and never read
        stalled.append(reader)
        with httpx.Client(base_url=server, timeout=10) as client:
            for path in READ_PATHS:
                started = time.monotonic()
                assert client.get(path).status_code == 200
                assert time.monotonic() - started < 5, f"{path} waited behind the slow clients"
    finally:
        for sock in stalled:
            sock.close()


def test_reads_during_a_promote_in_another_process_see_the_new_champion_next(server, served_home, promotes,
                                                                             tmp_path):
    """A burst of reads while ``candor registry promote`` moves the champion in its own process:
    nothing 5xx, every answer names the old or the new champion, and the first read after the
    promote has exited names the new one (the cache is invalidated across processes)."""
    before = httpx.get(server + "/api/models", timeout=10).json()[0]
    old, new = before["champion"], before["previous"]
    assert old and new and old != new
    statuses: list[int] = []
    champions: set[str] = set()
    stop = threading.Event()

    def burst() -> None:
        with httpx.Client(base_url=server, timeout=30) as client:
            while not stop.is_set():
                for path in READ_PATHS:
                    response = client.get(path)
                    statuses.append(response.status_code)
                    if path == "/api/models" and response.status_code == 200:
                        champions.add(response.json()[0]["champion"])
                # a breath between rounds: four readers flat out starved the promote process of the
                # 2 shared cores (25 s for a 1 s promote); reads still run all through the promote
                stop.wait(0.01)

    readers = [threading.Thread(target=burst) for _ in range(4)]
    for thread in readers:
        thread.start()
    try:
        promotes.start(served_home, tmp_path, before["name"], new, "--force", "--reason", "load test")
        code = promotes.wait()
        after = httpx.get(server + "/api/models", timeout=10).json()[0]
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=60)
    assert code == 0, promotes.log()
    assert after["champion"] == new and after["previous"] == old
    assert statuses and all(s < 500 for s in statuses), sorted(set(statuses))
    assert champions <= {old, new}
    history = httpx.get(server + "/api/models/PLANT/d1", timeout=10).json()
    assert history["champion"] == new


def test_a_promote_while_the_forecast_job_runs(trained, writable_home, promotes, tmp_path):
    """The forecast job runs over and over while another process promotes: every run forecasts
    (no skip, no error) with the old or the new champion, and the first run after the promote
    has exited uses the new one."""
    from candor.config import load_config
    from candor.ops.forecast import run_forecasts
    from candor.services import open_services

    config = load_config(overrides={"home": str(writable_home), "forecast": {"horizons": [5]}}, environ={})
    bars = trained.bars
    with open_services(config) as services:
        old = services.registry.version(trained.name, "champion").version
        new = services.registry.version(trained.name, "previous").version
    used: set[str] = set()
    runs = 0
    with open_services(config) as services:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            cut = runs % 50 + 1  # a different newest bar each run
            view = bars.iloc[: len(bars) - cut]
            when = (view.index[-1] + pd.Timedelta(hours=25)).to_pydatetime()
            report = run_forecasts(services, symbols=[trained.symbol], timeframes=[trained.timeframe],
                                   bars_loader=lambda s, tf, view=view: view, now=when)
            assert not report.skipped, report.skipped
            assert len(report.forecasts) == 1  # (its row may already be stored: kept, not rewritten)
            used.add(report.forecasts[0].model_version)
            runs += 1
            if runs == 1:  # the job is running: promote now, and keep running until it has exited
                promotes.start(writable_home, tmp_path, trained.name, str(new), "--force",
                               "--reason", "promote during the forecast job")
            elif promotes.exited():
                break
        assert promotes.wait() == 0, promotes.log()
        report = run_forecasts(services, symbols=[trained.symbol], timeframes=[trained.timeframe],
                               bars_loader=lambda s, tf: bars,
                               now=(bars.index[-1] + pd.Timedelta(hours=25)).to_pydatetime())
        assert [f.model_version for f in report.forecasts] == [str(new)]
        assert used <= {str(old), str(new)} and runs >= 1


def test_registry_state_is_cached_and_a_move_in_flight_is_not_frozen(writable_home):
    """Reads are served from the snapshot (no MLflow query); the audit row of a move whose MLflow
    half has not happened yet (another process between its two steps) makes the snapshot
    unsettled, so the alias move is seen as soon as it lands, not after the max age."""
    from candor.config import load_config
    from candor.registry.aliases import CHAMPION
    from candor.services import open_services
    from candor.store import record_alias_event

    config = load_config(overrides={"home": str(writable_home)}, environ={})
    with open_services(config) as services:
        registry, state = services.registry, services.registry.state
        (model,) = registry.list_models()
        registry.list_models(), registry.history(model.name), registry.history(model.name)
        assert state.rebuilds == 1, "repeated reads must come from the snapshot"
        old, new = model.champion, model.previous
        # Another process's promote, step 1: the write-ahead audit row, MLflow not moved yet.
        record_alias_event(services.engine, model_name=model.name, alias=CHAMPION, action="force_promote",
                           from_version=old, to_version=new, actor="other-process")
        assert registry.list_models()[0].champion == old and state.rebuilds == 2
        assert state._snapshot.mark is None, "trail and MLflow disagree: the snapshot must stay unsettled"
        assert registry.list_models()[0].champion == old and state.rebuilds == 3, "in flight: every read rebuilds"
        # Step 2: the MLflow alias moves; the very next read shows it (no retry interval to wait out).
        registry.client.set_registered_model_alias(model.name, CHAMPION, new)
        assert registry.list_models()[0].champion == new and state.rebuilds == 4
        assert state._snapshot.mark is not None
        registry.list_models()
        assert state.rebuilds == 4
        # An alias moved by hand outside candor never settles: past settle_s it is rebuilt at most
        # every retry_s, not on every read.
        registry.client.set_registered_model_alias(model.name, CHAMPION, old)
        state.invalidate()
        registry.list_models()
        state._snapshot.unsettled_since -= state.settle_s + 1  # as if first seen settle_s ago
        rebuilds = state.rebuilds
        registry.list_models(), registry.list_models()
        assert state._snapshot.mark is None and state.rebuilds == rebuilds, "throttled to retry_s"
        time.sleep(state.retry_s + 0.05)
        registry.list_models()
        assert state.rebuilds == rebuilds + 1


def test_the_cached_overview_shows_a_new_forecast_and_a_promotion_at_once(writable_home):
    """The overview is computed once per snapshot, not per request — and a new forecast row or an
    alias move (here through the registry of another ``Services``, i.e. another process's view)
    shows on the next call."""
    from candor.api import queries
    from candor.config import load_config
    from candor.services import open_services
    from candor.store import upsert_forecasts

    config = load_config(overrides={"home": str(writable_home)}, environ={})
    with open_services(config) as reader, open_services(config) as writer:
        first = queries.series_states(reader.engine, reader.registry)
        assert queries.series_states(reader.engine, reader.registry)[0] is first[0], "second call: cached"
        newest = first[0].forecast
        upsert_forecasts(reader.engine, [{
            "symbol": newest.symbol, "timeframe": newest.timeframe, "horizon": newest.horizon,
            "bar_ts": newest.bar_ts + pd.Timedelta(days=1), "direction": "BULLISH",
            "probabilities": {"BEARISH": 0.1, "NEUTRAL": 0.2, "BULLISH": 0.7}, "confidence": 0.7,
            "model_name": newest.model_name, "model_version": newest.model_version}])
        assert queries.series_states(reader.engine, reader.registry)[0].forecast.bar_ts > newest.bar_ts
        old, new = first[0].champion, first[0].previous
        writer.registry.promote(first[0].name, new, force=True, actor="test", reason="other process")
        state = queries.series_states(reader.engine, reader.registry)[0]
        assert (state.champion, state.previous) == (new, old)
