"""Replay: the daily loop on a forced champion and a shadow, and set coverage day by day (issue 24, Done when).

What it does, all through library calls (no subprocesses):

Two series (:data:`SERIES`), each in a home of its own: the embedded ``sp500`` (S&P 500 d1, no
edge: every set holds two classes, every forecast abstains — honest, but nothing trades) and a
``planted_signal`` series with a known edge (binary labels: one-class sets are trades, the rest
abstain), so the pages show sets, abstentions, a shadow comparison and a ledger that moves.

1. **Setup (once a series).** A fresh home; the series' history up to the last ``--sessions`` bars stored. A champion trained on the
   ``--train`` bars before the coverage span (logreg, 3 folds, gates at zero, forced promotion)
   and a shadow of the same window (random forest), validated and put in the ``shadow`` alias.
2. **Daily loop.** ``--sessions`` sessions (default 60) of: import the session's bar
   (:func:`candor.store.import_bars`) → :func:`candor.ops.forecast.run_forecasts` (champion and
   shadow rows, conformal sets by ACI, abstentions) → :func:`candor.ops.drift.run_drift` (labels
   resolved, CUSUM, set coverage, the shadow's paired comparison), each at the bar's close.
3. **Coverage replay.** 60 sessions resolve ~55 forecasts: one coverage figure from them has a
   standard error of ~4 points, too coarse for ±3. So the champion's sets are also replayed day
   by day over every bar between its training span and the loop (``--coverage-bars``, default
   1,000): each day the set is decided by :func:`candor.ops.sets.decide` — the forecast job's own
   function — at the ACI level given by the misses of the forecasts resolved by that day (a
   forecast resolves ``horizon`` bars later), exactly the state the forecast job reads back from
   ``ml_forecasts``; no store writes, so it takes seconds.
4. **Figures** to the ``daily-loop-replay`` section of ``benchmarks/results.md``: realised set
   coverage vs the target (loop and replay), abstention rate, the shadow's verdict (lift, CI, p),
   the paper ledger (P&L vs buy & hold, live Sharpe [CI] vs backtest Sharpe).
5. **Screenshots** (headless Chromium through Playwright, as the browser tests launch it) of the
   forecasts page (sets, abstentions) and the live page (shadow, paper ledger) under
   ``docs/screenshots/`` (``replay-*.png`` for sp500, ``replay-planted-*.png`` for the planted series).

Run:  OMP_NUM_THREADS=1 MLFLOW_DISABLE_TELEMETRY=true .venv/bin/python benchmarks/daily_loop_replay.py
      [--series both|sp500|planted] [--sessions 60] [--coverage-bars 1000] [--no-write] [--no-screenshots]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OMP_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).parent))
from results_file import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
#: The small configuration: the gates at zero (a forced champion is the point, not whether it passes).
OVERRIDES: dict[str, Any] = {
    "models": {"models": ("logreg",)}, "split": {"folds": 3}, "evaluation": {"importance_repeats": 0, "n_boot": 200},
    "registry": {"min_accuracy": 0.0, "min_precision": 0.0, "min_recall": 0.0, "min_f1": 0.0, "require_edge": False,
                 "min_backtest_trades": 0, "min_backtest_sharpe": -1000.0, "min_deflated_sharpe": 0.0},
    # Abstain on wide sets only: the forced champion has no significant edge, and with the edge rule on
    # every forecast abstains (the paper ledger would be flat by construction). Stated in the section.
    "forecast": {"gap_policy": "ignore", "abstain_without_edge": False},
}
SHADOW_MODELS = ("rf",)


@dataclass(frozen=True)
class Series:
    """One replayed series: where its bars come from, what it changes in :data:`OVERRIDES`, its
    screenshots' file prefix and the sentence the results section says about it."""

    key: str
    title: str
    shots: str
    overrides: dict[str, Any]
    about: str

    def bars(self, n: int) -> Any:
        """The whole series (at least ``n`` bars: history, coverage span, sessions)."""
        if self.key == "sp500":
            from candor.data.datasets import load_dataset

            return load_dataset("sp500")
        from candor.data.synthetic import planted_signal

        return planted_signal(n, seed=PLANTED_SEED, strength=PLANTED_STRENGTH)


#: The planted series: a reversal edge of 1 σ-unit (seed fixed), strong enough that a logreg's binary
#: up/down sets hold one class about half of the time (0.5 — the default — leaves almost every set wide).
PLANTED_SEED, PLANTED_STRENGTH = 11, 1.0
SERIES = {
    "sp500": Series("sp500", "Embedded `sp500` (S&P 500 d1): no edge", "replay", OVERRIDES, (
        "`forecast.abstain_without_edge = false` (the forced champion has no "
        "significant edge: with the rule on, every forecast abstains), so a forecast abstains when its conformal "
        "set holds several classes — here every one does: no edge, no trade.")),
    "planted": Series("planted", "Planted signal (synthetic d1): a known edge", "replay-planted", {
        **OVERRIDES, "labels": {"kind": "binary"}, "forecast": {"gap_policy": "ignore"}}, (
        f"`candor.data.synthetic.planted_signal(seed={PLANTED_SEED}, strength={PLANTED_STRENGTH})` (d1, a known "
        "reversal edge), binary labels (up/down over 5 bars: a one-class set is a trade) and "
        "`forecast.abstain_without_edge` at its default (on: the champion's out-of-sample verdict must be a "
        "significant edge, and is), so a forecast abstains only when its 90% set holds both classes.")),
}


@dataclass
class Loop:
    """A home with a champion and a shadow, and the bars its sessions import one by one."""

    services: Any
    bars: Any  # the whole series
    first_session: int  # index in ``bars`` of the first session's bar
    name: str
    champion: str
    shadow: str
    sessions: list[dict[str, Any]] = field(default_factory=list)
    series: Series = SERIES["sp500"]


def config_for(home: Path, overrides: dict[str, Any] = OVERRIDES, **extra: Any) -> Any:
    from candor.config import load_config

    return load_config(overrides={**overrides, **extra, "home": str(home)}, environ={})


def _slice(bars: Any, start: int | None, stop: int | None) -> Any:
    part = bars.iloc[start:stop].copy()
    part.attrs = dict(bars.attrs)
    return part


def setup(home: Path, bars: Any, *, sessions: int, train: int, gap: int, series: Series = SERIES["sp500"]) -> Loop:
    """Store the history before the sessions; train a forced champion and a shadow on the ``train``
    bars that end ``gap`` bars before the first session (``gap``: the coverage replay's span)."""
    from candor.application.train import run_training
    from candor.services import open_services
    from candor.store import import_bars

    config = config_for(home, series.overrides)
    first = len(bars) - sessions
    window = _slice(bars, first - gap - train, first - gap)
    services = open_services(config, migrate=True)
    import_bars(services.engine, _slice(bars, None, first))
    champion = run_training(window, config, services=services, promote=True, force=True,
                            actor="benchmarks/daily_loop_replay.py", reason="replay: forced champion")
    registered = champion.registered
    other = run_training(window, config_for(home, series.overrides, models={"models": SHADOW_MODELS}), services=services,
                         promote=False, actor="benchmarks/daily_loop_replay.py").registered
    registry = services.registry
    if registry.version(other.name, other.version).tags.get("status") != "validated":
        registry.validate(other.name, other.version)
    registry.shadow(other.name, other.version, replace=True, actor="benchmarks/daily_loop_replay.py",
                    reason="replay: shadow challenger")
    return Loop(services, bars, first, registered.name, str(registered.version), str(other.version), series=series)


def run_sessions(loop: Loop, count: int) -> list[dict[str, Any]]:
    """``count`` sessions: import the next bar, forecast, drift — each at that bar's close (+22 h)."""
    from candor.ops.drift import run_drift
    from candor.ops.forecast import run_forecasts
    from candor.store import import_bars

    for _ in range(count):
        i = loop.first_session + len(loop.sessions)
        bar = _slice(loop.bars, i, i + 1)
        now = (bar.index[0] + dt.timedelta(hours=22)).to_pydatetime()
        started = time.perf_counter()
        import_bars(loop.services.engine, bar)
        forecast = run_forecasts(loop.services, now=now)
        drift = run_drift(loop.services, now=now)
        loop.sessions.append({"bar": bar.index[0], "seconds": time.perf_counter() - started,
                              "written": forecast.written, "resolved": drift.resolved,
                              "skipped": forecast.skipped + drift.skipped,
                              "shadows": [s.summary() for s in drift.shadows]})
    return loop.sessions


def loop_figures(loop: Loop) -> dict[str, Any]:
    """Set coverage, abstentions, the shadow's comparison and the paper ledger of the loop's rows."""
    from candor.api.production import paper_panel, shadow_panel
    from candor.api.queries import find_series, run_for_version
    from candor.store import forecasts

    services, symbol, timeframe = loop.services, loop.bars.attrs["symbol"], loop.bars.attrs["timeframe"]
    horizon = services.config.forecast.horizons[0]
    rows = forecasts(services.engine, symbol, timeframe, horizon=horizon)
    resolved = [r for r in rows if r.realized_direction is not None and isinstance(r.prediction_set, list)]
    series = find_series(services.engine, services.registry, symbol, timeframe)
    return {"forecasts": len(rows), "abstained": sum(r.direction == "NONE" for r in rows),
            "resolved_with_set": len(resolved),
            "coverage": (sum(r.realized_direction in r.prediction_set for r in resolved) / len(resolved)
                         if resolved else None),
            "mean_set_size": sum(len(r.prediction_set) for r in resolved) / len(resolved) if resolved else None,
            "shadow": shadow_panel(services, series, horizon), "paper": paper_panel(services, series, horizon),
            "run": run_for_version(services.engine, symbol, timeframe, loop.champion, horizon),
            "horizon": horizon, "series": series}


def coverage_replay(loop: Loop, count: int) -> dict[str, Any]:
    """The champion's conformal sets day by day over the ``count`` bars before the loop (after its
    training span): each day's set at ACI's level from the misses resolved by that day."""
    from candor.labels import CLASS_NAMES, make_labels
    from candor.ops.sets import decide

    services = loop.services
    champion = services.registry.champion(loop.bars.attrs["symbol"], loop.bars.attrs["timeframe"])
    model, settings = champion.model, services.config.forecast
    history = _slice(loop.bars, None, loop.first_session)
    labels = make_labels(history, model.label_spec)
    horizon = model.label_spec.horizon
    predicted = [f for f in model.predict(history, last=count) if f.bar_ts in labels.y.index]
    report = model.manifest.report
    misses: list[bool] = []
    pending: list[tuple[int, bool]] = []  # (bar position at which it resolves, miss)
    position = {ts: k for k, ts in enumerate(history.index)}
    sizes, abstained = [], 0
    for f in predicted:
        now = position[f.bar_ts]
        misses += [m for due, m in pending if due <= now]
        pending = [(due, m) for due, m in pending if due > now]
        decision = decide(f.probabilities, report, settings, misses)
        truth = CLASS_NAMES[int(labels.y.loc[f.bar_ts])]
        pending.append((now + horizon, truth not in (decision.prediction_set or ())))
        sizes.append(len(decision.prediction_set or ()))
        abstained += decision.abstain_reason is not None
    misses += [m for _, m in pending]
    return {"n": len(misses), "coverage": 1.0 - sum(misses) / len(misses), "mean_set_size": sum(sizes) / len(sizes),
            "abstained": abstained, "start": predicted[0].bar_ts, "end": predicted[-1].bar_ts,
            "version": champion.version}


@contextlib.contextmanager
def serving(services: Any) -> Iterator[str]:
    """The candor app on ``services``, served by uvicorn in a thread; yields its base URL."""
    import uvicorn

    from candor.api import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 30 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def screenshots(loop: Loop, horizon: int, out: Path = SCREENSHOTS) -> list[Path]:
    """Full-page screenshots of the forecasts page and the live page in headless Chromium
    (``<prefix>-forecasts.png``, ``<prefix>-live.png``; the prefix is the series')."""
    from playwright.sync_api import sync_playwright

    symbol, timeframe = loop.bars.attrs["symbol"], loop.bars.attrs["timeframe"]
    out.mkdir(parents=True, exist_ok=True)
    pages = {f"{loop.series.shots}-forecasts.png": f"/forecasts/{symbol}/{timeframe}?horizon={horizon}",
             f"{loop.series.shots}-live.png": f"/live/{symbol}/{timeframe}?horizon={horizon}"}
    written = []
    with serving(loop.services) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for name, path in pages.items():
                page.goto(base + path, wait_until="networkidle")
                page.wait_for_timeout(500)  # plotly draws after load
                page.screenshot(path=str(out / name), full_page=True)
                written.append(out / name)
        finally:
            browser.close()
    return written


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def block(loop: Loop, figures: dict[str, Any], replay: dict[str, Any], shots: list[Path]) -> str:
    """One series' part of the section: its champion, the loop's table, the shadow, the ledger."""
    target = loop.services.config.forecast.coverage
    shadow, paper, run = figures["shadow"], figures["paper"], figures["run"]
    c = shadow.comparison
    if c is not None and c.lift is not None:
        verdict = (f"{c.verdict}: shadow v{c.shadow} {_pct(c.shadow_accuracy)} vs champion v{c.champion} "
                   f"{_pct(c.champion_accuracy)} on {c.n} common resolved rows, lift {c.lift * 100:+.1f} pts "
                   f"[95% CI {c.ci_low * 100:+.1f}, {c.ci_high * 100:+.1f}], p = {c.p_value:.3f}")
    else:
        verdict = (shadow.note or (c.note if c is not None else "no shadow")).rstrip(".")
    led = paper.ledger
    if led is not None:
        ci = "" if led.sharpe_ci is None else f" [95% CI {led.sharpe_ci[0]:+.2f}, {led.sharpe_ci[1]:+.2f}]"
        sharpe = "–" if led.live_sharpe is None else f"{led.live_sharpe:+.2f}"
        backtest = "–" if led.backtest_sharpe is None else f"{led.backtest_sharpe:+.2f}"
        paper_line = (f"{led.n_days} days ({led.start[:10]} → {led.end[:10]}): paper P&L {_pct(led.live_return, 2)} vs "
                      f"buy & hold {_pct(led.buy_and_hold, 2)}; live Sharpe {sharpe}{ci} vs backtest Sharpe "
                      f"{backtest}; {led.abstained} of {led.n_forecasts} resolved forecasts abstained (flat); "
                      f"{led.booked_days} days booked in `paper_ledger` by the drift job"
                      + (f" — {led.booking_note}" if led.booking_note else ""))
    else:
        paper_line = (paper.note or "no ledger").rstrip(".")
    per_session = sorted(s["seconds"] for s in loop.sessions)
    within = abs(replay["coverage"] - target) <= 0.03
    champion = ("" if run is None else f" (out-of-sample {_pct(run.oos_accuracy)} vs {_pct(run.baseline_accuracy)} "
                f"{run.best_baseline}: {run.verdict})")
    rows = [
        f"| loop: set coverage, {figures['resolved_with_set']} resolved forecasts | {_pct(figures['coverage'])} | "
        f"{_pct(target, 0)} ± 3 pts | mean set size {figures['mean_set_size'] or 0:.2f} |",
        f"| replay: set coverage, {replay['n']} forecasts day by day ({replay['start']:%Y-%m-%d} → "
        f"{replay['end']:%Y-%m-%d}) | **{_pct(replay['coverage'])}** | {_pct(target, 0)} ± 3 pts "
        f"{'✓' if within else '✗'} | mean set size {replay['mean_set_size']:.2f}, {replay['abstained']} abstained |",
        f"| loop: abstention rate | {_pct(figures['abstained'] / max(figures['forecasts'], 1))} | | "
        f"{figures['abstained']} of {figures['forecasts']} served forecasts abstained, "
        f"{figures['forecasts'] - figures['abstained']} called a direction |",
    ]
    return (
        f"### {loop.series.title}\n\n{loop.series.about} Champion `{loop.name}` v{loop.champion}{champion}, shadow "
        f"v{loop.shadow}; {len(loop.sessions)} sessions ({loop.sessions[0]['bar']:%Y-%m-%d} → "
        f"{loop.sessions[-1]['bar']:%Y-%m-%d}; median session {per_session[len(per_session) // 2]:.2f} s).\n\n"
        "| figure | value | target | note |\n|---|---:|---|---|\n" + "\n".join(rows) + "\n\n"
        f"- **Shadow** (`/api/shadow`): {verdict}.\n"
        f"- **Paper ledger** (`/api/paper`, `candor paper`): {paper_line}.\n"
        + (f"- Screenshots (headless Chromium): " + ", ".join(f"`{p.relative_to(ROOT)}`" for p in shots) + "\n"
           if shots else "")
    )


def section(blocks: list[str], seconds: float) -> str:
    """The ``daily-loop-replay`` section: what every series' replay does, then one block a series."""
    return (
        "## Daily loop replay: forced champion + shadow, 60 sessions (`benchmarks/daily_loop_replay.py`)\n\n"
        f"For each series: a champion (logreg, 3 folds, gates at zero, forced) and a shadow ({', '.join(SHADOW_MODELS)}),"
        " both trained once on the bars before the coverage span; then sessions of import bar → `run_forecasts` → "
        "`run_drift`, each at the bar's close. A loop's ~55 resolved forecasts give coverage ± ~4 pts "
        "(binomial s.e.), so the ±3-point check is on the replay: the same champion's sets decided day by day by "
        "`ops.sets.decide` at ACI's level from the misses resolved by each day, over the bars between its training "
        f"span and the loop. Total {seconds:.0f} s; load average {os.getloadavg()[0]:.1f} (2 cores, shared).\n\n"
        + "\n".join(blocks)
    )


def replay_series(series: Series, args: argparse.Namespace) -> str:
    """Set up, run the sessions, measure and (unless told not to) photograph one series; its block."""
    started = time.perf_counter()
    home = Path(tempfile.mkdtemp(prefix=f"candor-replay-{series.key}-"))
    bars = series.bars(args.train + args.coverage_bars + args.sessions)
    loop = setup(home, bars, sessions=args.sessions, train=args.train, gap=args.coverage_bars, series=series)
    print(f"{series.key}: setup {time.perf_counter() - started:.0f}s: champion v{loop.champion}, "
          f"shadow v{loop.shadow}", flush=True)
    try:
        for k in range(args.sessions):
            run_sessions(loop, 1)
            s = loop.sessions[-1]
            if k % 10 == 9 or k == args.sessions - 1:
                print(f"session {k + 1}: {s['bar']:%Y-%m-%d} {s['seconds']:.1f}s written {s['written']} "
                      f"resolved {s['resolved']} skipped {s['skipped']} {s['shadows']}", flush=True)
        figures = loop_figures(loop)
        replay = coverage_replay(loop, args.coverage_bars)
        shots = [] if args.no_screenshots else screenshots(loop, figures["horizon"])
        return block(loop, figures, replay, shots)
    finally:
        loop.services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", choices=[*SERIES, "both"], default="both")
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--train", type=int, default=1500, help="bars the champion and the shadow train on")
    parser.add_argument("--coverage-bars", type=int, default=1000, help="bars of the day-by-day coverage replay")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave results.md alone")
    parser.add_argument("--no-screenshots", action="store_true")
    args = parser.parse_args()
    if args.series != "both" and not args.no_write:
        parser.error("--series sp500|planted needs --no-write: the results section holds both series")
    started = time.perf_counter()
    blocks = [replay_series(SERIES[key], args) for key in (SERIES if args.series == "both" else [args.series])]
    body = section(blocks, time.perf_counter() - started)
    print(body)
    if not args.no_write:
        write_section("daily-loop-replay", body)


if __name__ == "__main__":
    main()
