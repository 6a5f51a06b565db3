"""`candor ledger` — the trial ledger: every configuration evaluated per target, and its summary.

A thin shell over :mod:`candor.store.ledger`. It only reads: a missing embedded database is
reported as an empty ledger (and not created), a database at another schema is refused in one
line, and nothing can be deleted from here (the ledger has no delete path at all).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from candor.cli.app import app, console
from candor.cli.db import URL_HELP, _database_url, _missing_sqlite_file, _say
from candor.errors import ConfigError


def parse_target(text: str) -> tuple[str, str | None, int | None]:
    """``SYMBOL``, ``SYMBOL/TF`` or ``SYMBOL/TF/hN`` → (symbol, timeframe, horizon); ConfigError otherwise."""
    from candor.data.bars import check_symbol, check_timeframe

    parts = text.split("/")
    if not 1 <= len(parts) <= 3 or not all(parts):
        raise ConfigError(f"`--target` must be SYMBOL, SYMBOL/TF or SYMBOL/TF/hN, e.g. SPX/d1/h5. Got {text!r}.")
    try:
        symbol = check_symbol(parts[0])
        timeframe = check_timeframe(parts[1]) if len(parts) > 1 else None
    except ConfigError as exc:
        raise ConfigError(f"`--target` {text!r}: {exc}") from None
    horizon = None
    if len(parts) == 3:
        raw = parts[2][1:] if parts[2][:1] in ("h", "H") else parts[2]
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError(f"`--target` horizon must be hN with N >= 1, e.g. SPX/d1/h5. Got {parts[2]!r}.")
        horizon = int(raw)
    return symbol, timeframe, horizon


def parse_since(text: str) -> dt.datetime:
    """A date (``YYYY-MM-DD``) or ISO timestamp as an aware UTC datetime (naive means UTC)."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"`--since` must be a date, YYYY-MM-DD (or an ISO timestamp). Got {text!r}.") from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _trial_table(rows: list[Any]) -> Table:
    table = Table(title="Trials (oldest first)")
    for name in ("id", "when (UTC)", "target", "label", "trials", "lift [95% CI]", "p", "Sharpe", "DSR",
                 "data", "config", "command"):
        table.add_column(name, overflow="fold")
    for r in rows:
        ci = f"{_num(r.lift, '+.4f')} [{_num(r.lift_ci_low, '+.4f')}, {_num(r.lift_ci_high, '+.4f')}]"
        span = (f"{r.data_first:%Y-%m-%d}→{r.data_last:%Y-%m-%d}" if r.data_first and r.data_last else "—")
        table.add_row(str(r.id), f"{r.recorded_at:%Y-%m-%d %H:%M}", r.target, r.label_kind,
                      f"{r.n_trials}" + (f" ({r.tuning_trials} tuning)" if r.tuning_trials else ""), ci,
                      _num(r.p_value, ".4f"), _num(r.sharpe, ".2f"), _num(r.deflated_sharpe, ".2f"), span,
                      (r.config_hash or "—")[:10], r.command + (" --dry-run" if r.dry_run else ""))
    return table


def _summary_table(summaries: list[Any]) -> Table:
    table = Table(title="Targets (every trial counted, whatever --since)")
    for name in ("target", "label", "runs", "trials", "dry runs", "best lift", "best p", "best p × trials",
                 "best Sharpe", "latest DSR", "last (UTC)"):
        table.add_column(name)
    for s in summaries:
        table.add_row(s.target, s.label_kind, str(s.rows), str(s.trials), str(s.dry_runs),
                      _num(s.best_lift, "+.4f"), _num(s.best_p_value, ".4f"), _num(s.best_p_adjusted, ".4f"),
                      _num(s.best_sharpe, ".2f"), _num(s.latest_deflated_sharpe, ".2f"),
                      f"{s.last:%Y-%m-%d %H:%M}" if s.last else "—")
    return table


def _write_json(path: Path, document: dict[str, Any]) -> None:
    from candor.outputs import write_text_atomic

    write_text_atomic(path, json.dumps(document, indent=2, allow_nan=False), what="ledger JSON")


@app.command("ledger")
def ledger_command(
    target: str = typer.Option(None, "--target", help="One target: SYMBOL, SYMBOL/TF or SYMBOL/TF/hN (e.g. SPX/d1/h5)."),
    since: str = typer.Option(None, "--since", help="List trials recorded on or after this date (YYYY-MM-DD, UTC)."),
    output_json: Path = typer.Option(None, "--output-json", help="Also write the trials and summaries as JSON here."),
    url: str = typer.Option(None, "--url", help=URL_HELP),
) -> None:
    """List the trial ledger: every configuration evaluated per target (series × horizon × label
    kind), with its lift, CI, p-value and Sharpe, and per target the trial count the Deflated
    Sharpe deflates for. Read-only: the ledger is never erased."""
    symbol, timeframe, horizon = parse_target(target) if target is not None else (None, None, None)
    start = parse_since(since) if since is not None else None
    from candor.cli.options import check_output_file  # lazy: the output check loads candor's file helpers

    check_output_file(output_json, "--output-json")
    from candor.store.engine import safe_url

    resolved = _database_url(url, create_home=False)
    if _missing_sqlite_file(resolved):  # reading it would create an empty file (and the home around it)
        everything: list[Any] = []
    else:
        from candor.store import connect_store
        from candor.store.ledger import trials

        with connect_store(resolved) as store:  # a database at another schema: one line, nothing written
            everything = trials(store.engine, symbol=symbol, timeframe=timeframe, horizon=horizon)
    _show(everything, start, safe_url(resolved), output_json)


def _show(everything: list[Any], start: dt.datetime | None, where: str, output_json: Path | None) -> None:
    from candor.store.ledger import summarise

    listed = [r for r in everything if start is None or (r.recorded_at and r.recorded_at >= start)]
    keys = {(r.symbol, r.timeframe, r.horizon, r.label_kind) for r in listed}
    summaries = summarise(r for r in everything if (r.symbol, r.timeframe, r.horizon, r.label_kind) in keys)
    if output_json is not None:
        _write_json(output_json, {"database": where, "since": None if start is None else start.isoformat(),
                                  "n_trials": sum(s.trials for s in summaries),
                                  "trials": [r.model_dump(mode="json") for r in listed],
                                  "targets": [s.model_dump(mode="json") for s in summaries]})
    if not listed:
        _say(f"no trials recorded{'' if start is None else f' since {start:%Y-%m-%d}'} — {where}")
        return
    console.print(_trial_table(listed))
    console.print(_summary_table(summaries))
    _say(f"{len(listed)} row(s), {sum(s.trials for s in summaries)} trial(s) over {len(summaries)} target(s) "
         f"— {where}")
