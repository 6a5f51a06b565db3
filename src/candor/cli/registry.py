"""`candor registry list | history | promote | shadow | rollback | archive | delete | compare | reconcile`.

A thin shell over :class:`candor.registry.Registry`: it loads the config (home, database and
tracking URI resolved there), opens the services, names the acting user, calls one library
method and prints the result. Each command checks its arguments (the model name, the version,
``--margin``) before the services are opened, so a refused command leaves ``<home>`` as it was: an
invalid name or version is one line and exit 3; every refusal of the registry (unknown model, a
lifecycle rule) is a ``RegistryError`` → one line, exit 1.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from candor.cli.app import app, console

if TYPE_CHECKING:  # for the annotation only; MLflow and the registry load when a command runs
    from candor.registry import Registry

registry_app = typer.Typer(name="registry", no_args_is_help=True,
                           help="Model registry (MLflow): versions, gates, champion alias, audit trail.")
app.add_typer(registry_app, name="registry")

NAME_HELP = "Registered model: candor.SYMBOL.timeframe (e.g. candor.SPX.d1) or SYMBOL/timeframe."
VERSION_HELP = "Version number, or an alias such as champion / previous."


@contextmanager
def _registry() -> Iterator[Registry]:
    """The configured registry (:func:`candor.services.open_services`), closed afterwards."""
    # lazy: the config, MLflow and the registry load when a command runs, so --help and option
    # errors start in < 0.5 s
    from candor.config import load_config
    from candor.services import open_services

    with open_services(load_config()) as services:
        yield services.registry


def _name(name: str) -> str:
    """The registered name of NAME (``SPX/d1`` → ``candor.SPX.d1``), refused (exit 3) unless a
    candor model can have it — before anything is opened."""
    from candor.registry.common import resolve_name

    return resolve_name(name)


def _version(version: str) -> str:
    from candor.registry.common import check_version_ref

    return check_version_ref(version)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@registry_app.command("list")
def list_command() -> None:
    """List candor's registered models with their champion and previous versions."""
    with _registry() as registry:
        models = registry.list_models()
    if not models:
        from candor.registry.common import FIRST_CHAMPION_STEPS

        _say(f"no registered models yet — a first champion: {' ; '.join(FIRST_CHAMPION_STEPS)}")
        return
    from candor.records.report import PRIOR_DOMINANT, PRIOR_NOTE, weights_text

    table = Table(title="Registered models", caption=f"λ ≥ {PRIOR_DOMINANT:.0%}: {PRIOR_NOTE}" if any(
        m.prior_weight is not None and m.prior_weight >= PRIOR_DOMINANT for m in models) else None, caption_justify="left")
    for column in ("name", "versions", "latest", "champion", "previous", "champion's blend (class prior λ · members)"):
        table.add_column(column)
    for m in models:
        blend = "-" if m.champion is None or (m.weights is None and m.prior_weight is None) else \
            weights_text(m.member_weights, m.prior_weight)
        if m.prior_weight is not None and m.prior_weight >= PRIOR_DOMINANT:
            blend = f"[yellow]{blend} — {PRIOR_NOTE}[/]"
        table.add_row(m.name, str(m.versions), m.latest or "-", m.champion or "-", m.previous or "-", blend)
    console.print(table)


@registry_app.command("history")
def history_command(name: str = typer.Argument(..., help=NAME_HELP)) -> None:
    """Every version, newest first: status, aliases, key metrics and gate reasons."""
    name = _name(name)
    with _registry() as registry:
        rows = registry.history(name)
    table = Table(title=f"{name} versions")
    for column in ("version", "status", "aliases", "created", "oos acc", "holdout acc", "verdict", "gate reasons"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.version, r.status, ", ".join(r.aliases) or "-", f"{r.created:%Y-%m-%d %H:%M}",
                      _pct(r.metrics.get("oos_accuracy")), _pct(r.metrics.get("holdout_accuracy")),
                      r.verdict or "-", r.gate_reasons or "-")
    console.print(table)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


@registry_app.command("promote")
def promote_command(
    name: str = typer.Argument(..., help=NAME_HELP),
    version: str = typer.Argument(..., help=VERSION_HELP),
    force: bool = typer.Option(False, "--force", help="Promote a version that failed its gates (audited)."),
    reason: str = typer.Option(None, "--reason", help="Why; stored in the audit trail."),
) -> None:
    """Move the champion alias to VERSION (the old champion becomes previous)."""
    name, version = _name(name), _version(version)
    with _registry() as registry:
        result = registry.promote(name, version, force=force, actor=_actor(), reason=reason)
    _say(f"{result.name}: version {result.version} is now champion ({result.note})")


@registry_app.command("shadow")
def shadow_command(
    name: str = typer.Argument(..., help=NAME_HELP),
    version: str = typer.Argument(..., help=VERSION_HELP),
    replace: bool = typer.Option(False, "--replace", help="Replace the series' current shadow (one per series)."),
    reason: str = typer.Option(None, "--reason", help="Why; stored in the audit trail."),
) -> None:
    """Put a validated, non-champion VERSION in shadow: its forecasts are stored (never served) and the
    drift job promotes it only when the paired test finds it significantly better than the champion."""
    name, version = _name(name), _version(version)
    with _registry() as registry:
        result = registry.shadow(name, version, replace=replace, actor=_actor(), reason=reason)
    _say(f"{result.name}: version {result.version} is now the shadow" + (f" ({result.note})" if result.note else ""))


@registry_app.command("rollback")
def rollback_command(
    name: str = typer.Argument(..., help=NAME_HELP),
    reason: str = typer.Option(None, "--reason", help="Why; stored in the audit trail."),
) -> None:
    """Swap champion and previous: the previous champion serves again."""
    name = _name(name)
    with _registry() as registry:
        result = registry.rollback(name, actor=_actor(), reason=reason)
    _say(f"{result.name}: rolled back to version {result.version} ({result.note})")


@registry_app.command("archive")
def archive_command(
    name: str = typer.Argument(..., help=NAME_HELP),
    version: str = typer.Argument(..., help=VERSION_HELP),
    reason: str = typer.Option(None, "--reason", help="Why; stored in the audit trail."),
) -> None:
    """Tag VERSION archived (never the champion)."""
    name, version = _name(name), _version(version)
    with _registry() as registry:
        result = registry.archive(name, version, actor=_actor(), reason=reason)
    _say(f"{result.name}: version {result.version} archived")


@registry_app.command("delete")
def delete_command(
    name: str = typer.Argument(..., help=NAME_HELP),
    version: str = typer.Argument(..., help=VERSION_HELP),
    reason: str = typer.Option(None, "--reason", help="Why; stored in the audit trail."),
) -> None:
    """Delete VERSION from the registry (never the champion)."""
    name, version = _name(name), _version(version)
    with _registry() as registry:
        registry.delete(name, version, actor=_actor(), reason=reason)
    _say(f"{name}: version {version} deleted")


@registry_app.command("compare")
def compare_command(
    name: str = typer.Argument(..., help=NAME_HELP),
    challenger: str = typer.Argument(..., help="Challenger version."),
    champion: str = typer.Option(None, "--champion", help="Compare with this version instead of the champion."),
    margin: float = typer.Option(0.0, "--margin", help="Promote unless the challenger is significantly worse by "
                                                       "more than this much accuracy."),
    promote: bool = typer.Option(False, "--promote", help="Promote the challenger when it passed its gates and is "
                                                          "not significantly worse."),
    dataset: str = typer.Option(None, "--dataset", help="Re-score both versions on this embedded dataset's bars "
                                                        "(the paired test needs the rows)."),
    data: Path = typer.Option(None, "--data", help="Re-score both versions on this CSV/Parquet file's bars."),
    tz: str = typer.Option(None, "--tz", help="Time zone of naive timestamps in --data (default UTC)."),
    calendar: str = typer.Option(None, "--calendar", help="Exchange calendar of --data (default XNYS), '24/7' or "
                                                          "'none'."),
) -> None:
    """Challenger vs champion on the same rows — the challenger's holdout, re-scored by both from
    --dataset/--data bars — by the paired block-bootstrap test: lift, CI, p and the verdict ("worse"
    only when significantly worse). Without bars only stored accuracies on an identical holdout
    can be compared, untested."""
    from candor.registry.common import parse_model_name
    from candor.registry.compare import check_margin

    name, challenger = _name(name), _version(challenger)
    champion = None if champion is None else _version(champion)
    check_margin(margin)
    bars = None
    if dataset is not None or data is not None:
        from candor.data.sources import open_bars

        bars = open_bars(dataset=dataset, data=data, timeframe=parse_model_name(name).timeframe, tz=tz,
                         calendar=calendar)
    from candor.config import load_config
    from candor.services import open_services

    config = load_config()
    with open_services(config) as services:
        result = services.registry.compare(name, challenger, champion, margin=margin, promote=promote,
                                           actor=_actor(), bars=bars, alpha=config.evaluation.alpha,
                                           n_boot=config.evaluation.n_boot)
    _say(f"{name}: {result.summary()} (margin {margin}; {result.basis}){'; promoted' if result.promoted else ''}")


@registry_app.command("reconcile")
def reconcile_command(name: str = typer.Argument(..., help=NAME_HELP)) -> None:
    """Repair what an interrupted publish, promotion or rollback left: the audit trail and the aliases,
    runs stuck RUNNING, versions without their training record, abandoned staging folders."""
    from candor.config import load_config, under_home
    from candor.errors import NotFoundError
    from candor.registry.common import parse_model_name
    from candor.registry.repair import repair_interrupted
    from candor.services import open_services

    name = _name(name)
    ref = parse_model_name(name)
    config = load_config()
    with open_services(config) as services:
        repairs = repair_interrupted(services.registry, services.tracking, symbol=ref.symbol, timeframe=ref.timeframe,
                                     folders=[(under_home(config.home, "models"), 3)])
        for repair in repairs:
            _say(f"{name}: {repair}")
        try:
            fixes = services.registry.reconcile(name)
        except NotFoundError:
            if not repairs:
                raise
            _say(f"{name}: no version was registered, so no alias to reconcile")
            return
    if not fixes:
        _say(f"{name}: audit trail and aliases agree")
    for fix in fixes:
        _say(f"{name}: {fix.alias} {fix.kind} {fix.from_version or 'none'} → {fix.to_version or 'none'}")
    if not repairs:
        _say(f"{name}: no interrupted publish left anything behind")