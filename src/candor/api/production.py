"""Read models of the live panels (issue 24): the shadow challenger and the paper ledger.

Why a module of its own: ``/api/shadow``, ``/api/paper`` and the live page show the same facts;
each is computed once here from the library (:func:`candor.ops.shadow.live_comparison`,
:func:`candor.ops.paper.paper_ledger`) — nothing is re-derived in the shell. An empty state is a
sentence (``note``) that says what to run, never a blank panel.
"""

from __future__ import annotations

from typing import Any

from candor.api import queries
from candor.errors import CandorError
from candor.ops.paper import paper_ledger
from candor.ops.shadow import live_comparison
from candor.records.live import PaperLedger, ShadowComparison
from candor.records.values import Record


class ShadowPanel(Record):
    """Which version shadows the champion of one model, and how it compares (or why it does not)."""

    name: str
    champion: str | None
    shadow: str | None
    comparison: ShadowComparison | None = None
    note: str | None = None


class PaperPanel(Record):
    """The paper ledger of one series × horizon, or the sentence that says why there is none."""

    symbol: str
    timeframe: str
    horizon: int
    ledger: PaperLedger | None = None
    note: str | None = None

    def equity(self) -> tuple[list[str], list[float], list[float]]:
        """Days, the ledger's compounded equity and buy & hold's (both from 1.0)."""
        days, live, hold = [], [], []
        a = b = 1.0
        for day in self.ledger.days if self.ledger is not None else ():
            a, b = a * (1.0 + day.live_return), b * (1.0 + day.buy_and_hold)
            days.append(day.day)
            live.append(a)
            hold.append(b)
        return days, live, hold


def shadow_panel(svc: Any, series: queries.Series, horizon: int) -> ShadowPanel:
    name = series.model_name(horizon)
    champion = queries.champion_version(svc.registry, name)
    shadow = svc.registry.shadow_index().get(name)
    if champion is None:
        return ShadowPanel(name=name, champion=None, shadow=shadow,
                           note=f"No champion for {name}: a shadow is compared with a champion.")
    if shadow is None:
        return ShadowPanel(name=name, champion=str(champion), shadow=None, note=(
            f"No shadow for {name}: `candor registry shadow {name} VERSION` puts a validated version beside the "
            "champion (train --promote does it for a challenger that passed its gates but lost the comparison)."))
    comparison = live_comparison(svc.engine, svc.registry, svc.config, name, str(champion), series.symbol,
                                 series.timeframe, horizon)
    note = None if comparison is None or comparison.lift is not None else f"Not compared yet: {comparison.note}."
    return ShadowPanel(name=name, champion=str(champion), shadow=shadow, comparison=comparison, note=note)


def paper_panel(svc: Any, series: queries.Series, horizon: int) -> PaperPanel:
    """The ledger beside the champion's backtest Sharpe, read from its stored training report."""
    symbol, timeframe = series.symbol, series.timeframe

    def backtest_sharpe(_symbol: str, _timeframe: str, _horizon: int) -> float | None:
        champion = queries.champion_version(svc.registry, series.model_name(horizon))
        report = queries.run_report(queries.run_for_version(svc.engine, symbol, timeframe, champion, horizon)
                                    if champion is not None else None)
        return None if report is None or report.backtest is None else report.backtest.sharpe

    try:
        [ledger] = paper_ledger(svc.engine, symbol, timeframe, horizon=horizon, config=svc.config.backtest,
                                backtest_sharpe=backtest_sharpe)
    except CandorError as exc:
        return PaperPanel(symbol=symbol, timeframe=timeframe, horizon=horizon, note=f"No paper ledger yet: {exc}.")
    return PaperPanel(symbol=symbol, timeframe=timeframe, horizon=horizon, ledger=ledger)
