"""Rich rendering of training results: what a trader reads first is the verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from candor.records.report import PRIOR_DOMINANT, weights_text
from candor.records.verdict import Verdict


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _score_row(name: str, report: Any) -> list[str]:
    return [
        name, f"{report.n:,}" if hasattr(report, "n") else "", _pct(report.accuracy),
        f"{report.best_baseline} {_pct(report.best_baseline_accuracy)}",
        f"{report.lift:+.1%} [{report.lift_ci_low:+.1%}, {report.lift_ci_high:+.1%}]",
        _p_value(report), _mde(report), f"[{verdict_style(report.verdict)}]{report.verdict}[/]",
    ]


def _mde(report: Any) -> str:
    """The minimum detectable lift at 80% power and, where larger than 2 points, the bars +2 would need."""
    mde = getattr(report, "mde", None)
    if mde is None:
        return "—"
    more = getattr(report, "bars_for_2pt", None)
    return f"{mde:.1%}" + (f" (+{more:,} bars for 2 pt)" if more else "")


def _p_value(report: Any) -> str:
    """The p-value with its Monte-Carlo standard error (bootstrap draws) beside it."""
    mc = getattr(report, "p_value_mc_se", None)
    return f"{report.p_value:.3f}" + ("" if mc is None else f" ± {mc:.3f}")


def verdict_style(verdict: str | None) -> str:
    if verdict == Verdict.SIGNIFICANT_EDGE:
        return "bold green"
    return "bold red" if verdict == Verdict.SIGNIFICANTLY_WORSE else "bold yellow"


def _probability_row(name: str, report: Any) -> list[str]:
    """Log-loss and Brier beside the class prior's, with the gain's CI and verdict."""
    if report.prior_log_loss is None:
        return [name, "—", "—", "—", "—", "—", "—"]
    verdict = report.log_loss_verdict
    return [
        name, f"{report.log_loss:.3f}", f"{report.prior_log_loss:.3f}",
        f"{report.log_loss_gain:+.3f} [{report.log_loss_gain_ci_low:+.3f}, {report.log_loss_gain_ci_high:+.3f}]",
        f"{report.brier:.3f}", f"{report.prior_brier:.3f}", f"[{verdict_style(verdict)}]{verdict}[/]",
    ]


def render_training(console: Console, outcome: Any) -> None:
    result = outcome.result
    dist = ", ".join(f"{k} {v:.0%}" for k, v in result.class_distribution.items())
    console.print(f"[bold]{result.symbol}/{result.timeframe}[/]  {result.n_samples:,} samples · "
                  f"label {result.label} · classes {dist}")
    for setting in result.derived:  # settings this run derived for itself: never silent
        console.print(f"[yellow]derived[/] {escape(f'{setting.field} = {setting.value} — {setting.source}')}",
                      highlight=False, soft_wrap=True)

    folds = Table(title="Purged walk-forward folds (out-of-sample)", title_justify="left")
    for col in ("fold", "train", "test", "test span", "acc", "train acc", "majority", "persist."):
        folds.add_column(col, no_wrap=col == "test span")
    for f in result.folds:
        folds.add_row(str(f.index + 1), f"{f.train_rows:,}", f"{f.test_rows:,}",
                      f"{f.test_start[:10]}…{f.test_end[2:10]}", _pct(f.accuracy), _pct(f.train_accuracy),
                      _pct(f.baselines.get("majority")), _pct(f.baselines.get("persistence")))
    console.print(folds)

    render_blend(console, result.report)

    level = f"{1 - result.oos.alpha:.0%}"
    scores = Table(title=f"Ensemble vs best baseline (two-sided test at α = {result.oos.alpha:g}; {level} CI from a "
                         f"{result.oos.block_length}-row block bootstrap)", title_justify="left")
    for col in ("set", "rows", "accuracy", "best baseline", f"lift [{level} CI]", "p ± MC s.e.", "MDE at 80% power",
                "verdict"):
        scores.add_column(col)
    scores.add_row(*_score_row("walk-forward", result.oos))
    scores.add_row(*_score_row("holdout", result.holdout))
    console.print(scores)

    probabilities = Table(title=f"Probabilities vs the class prior (training-fold frequencies; gain = prior − model "
                                f"log-loss, {level} CI)", title_justify="left")
    for col in ("set", "log-loss", "prior", "gain [CI]", "Brier", "prior", "verdict"):
        probabilities.add_column(col)
    probabilities.add_row(*_probability_row("walk-forward", result.oos))
    probabilities.add_row(*_probability_row("holdout", result.holdout))
    console.print(probabilities)

    if result.backtest is not None:
        console.print(_backtest_table(result.backtest))

    verdict = result.oos.verdict
    lines = [f"[{verdict_style(verdict)}]{verdict.upper()}[/] out of sample "
             f"({_pct(result.oos.accuracy)} vs {result.oos.best_baseline} baseline {_pct(result.oos.best_baseline_accuracy)})"]
    power = result.oos.power_text()
    if power:  # "no significant edge" is not proof of nothing: what this test could have seen
        lines[0] += f": {escape(power)}"
    if outcome.artifact:
        lines.append(f"model artifact: {outcome.artifact}")
    for reason in outcome.gate_failures:
        lines.append(f"[red]gate not met:[/] {reason}")
    registered = outcome.registered
    if registered is not None:
        lines.append(f"registry: {registered.name} v{registered.version} [bold]{registered.status}[/]"
                     + (f" — {registered.note}" if registered.note else ""))
        lines.extend(f"  [yellow]·[/] {reason}" for reason in registered.gate_reasons)
    console.print(Panel("\n".join(lines), expand=False))


def render_blend(console: Console, report: Any) -> None:
    """The members table with the class prior's share λ, and one line when λ ≥ 0.9."""
    console.print(_members_table(report))
    if report.prior_note:
        console.print(f"[bold yellow]{escape(report.prior_note)}[/]: the members' say is "
                      f"{1 - report.prior_weight:.0%}, so its calls mostly repeat the most frequent class.",
                      soft_wrap=True)


def _members_table(report: Any) -> Table:
    """Each member's scores and blend weight, and the class prior's share λ of the served forecast
    (a member's share of a forecast is its weight × (1 − λ))."""
    lam = report.prior_weight
    caption = None if lam is None else f"forecast = (1 − λ) · weighted members + λ · class prior; {weights_text(report.weights, lam)}"
    members = Table(title="Members (pooled out-of-sample)", title_justify="left", caption=caption, caption_justify="left")
    for col in ("model", "train acc", "oos acc", "f1", "weight"):
        members.add_column(col)
    for name, s in report.models.items():
        members.add_row(name, _pct(s.train_accuracy), _pct(s.oos_accuracy), f"{s.f1:.3f}",
                        f"{report.weights.get(name, 0.0):.2f}")
    if lam is not None:
        members.add_row("class prior (λ)", "", "", "", f"{lam:.2f}", style="yellow" if lam >= PRIOR_DOMINANT else None)
    return members


def _backtest_table(backtest: Any) -> Table:
    table = Table(title=f"Backtest of out-of-sample signals ({backtest.config.execution.replace('_', ' ')}, "
                        f"{backtest.config.cost_bps:g} bp cost; PSR {backtest.sharpe.psr:.2f}, "
                        f"deflated {backtest.sharpe.dsr:.2f})", title_justify="left")
    for col in ("strategy", "CAGR", "Sharpe", "max DD", "trades", "exposure"):
        table.add_column(col)
    for name, m in (("candor signals", backtest.metrics), ("buy & hold", backtest.buy_and_hold),
                    ("always flat", backtest.always_flat)):
        table.add_row(name, _pct(m.cagr), f"{m.sharpe:.2f}", _pct(m.max_drawdown), str(m.n_trades), _pct(m.exposure))
    return table


def render_universe(console: Console, rows: list[Any]) -> None:
    from candor.training.multiplicity import CORRECTION_NAMES

    correction = next((r.correction for r in rows if r.correction), None)
    judged = sum(r.adjusted_p_value is not None for r in rows)
    table = Table(title="candor — every series, out-of-sample, beside its best baseline", title_justify="left",
                  caption=f"p adjusted across the {judged} trained series: {CORRECTION_NAMES.get(correction or 'none')}",
                  caption_justify="left")
    for col in ("dataset", "series", "samples", "OOS accuracy", "best baseline", "lift [95% CI]", "p", "p adj.",
                "MDE at 80% power", "verdict (adjusted)"):
        table.add_column(col)
    for row in rows:
        if row.status == "failed":
            table.add_row(row.name, f"{row.symbol}/{row.timeframe}", "—", "—", "—", "—", "—", "—", "—",
                          f"[red]failed:[/] {escape(row.reason or '')}")
            continue
        verdict = row.adjusted_verdict or row.verdict
        table.add_row(
            row.name, f"{row.symbol}/{row.timeframe}", f"{row.samples:,}", _pct(row.accuracy),
            f"{row.best_baseline} {_pct(row.baseline_accuracy)}",
            f"{row.lift:+.1%} [{row.lift_ci_low:+.1%}, {row.lift_ci_high:+.1%}]",
            "—" if row.p_value is None else f"{row.p_value:.3f}",
            "—" if row.adjusted_p_value is None else f"{row.adjusted_p_value:.3f}", _mde(row),
            f"[{verdict_style(verdict)}]{verdict}[/]",
        )
    console.print(table)
