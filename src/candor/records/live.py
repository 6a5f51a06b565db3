"""The live comparisons the ops jobs compute and the shells show (issue 24): the shadow challenger
against its champion, and the paper ledger of the served forecasts.

:mod:`candor.ops.shadow` and :mod:`candor.ops.paper` build them; ``candor ops drift``,
``candor paper`` (``--output-json``), ``/api/shadow``, ``/api/paper`` and the live page read them.
The derived facts (a comparison's verdict and summary line, a ledger's day counts and whether the
backtest Sharpe lies inside the live interval) are part of the stored form, so every reader sees
the same ones. Non-finite numbers are written as ``null``.
"""

from __future__ import annotations

from typing import Any

from pydantic import SerializationInfo, SerializerFunctionWrapHandler, computed_field, model_serializer

from candor.records.values import Num, Record


class ShadowComparison(Record):
    """Shadow vs champion of one model on their common resolved forecasts (the paired lift test:
    lift = shadow − champion accuracy, its interval and p-value); ``note`` says why it was not
    compared or not promoted."""

    name: str
    horizon: int
    champion: str
    shadow: str
    n: int
    champion_accuracy: Num = None
    shadow_accuracy: Num = None
    lift: Num = None
    ci_low: Num = None
    ci_high: Num = None
    p_value: Num = None
    promoted: bool = False
    note: str = ""

    @property
    def significantly_better(self) -> bool:
        return self.ci_low is not None and self.ci_low > 0

    @property
    def verdict(self) -> str:
        """``significantly better`` / ``significantly worse`` / ``not significantly different``, or
        ``not compared yet`` (too few common resolved rows)."""
        if self.lift is None:
            return "not compared yet"
        return ("significantly better" if self.significantly_better else
                "significantly worse" if (self.ci_high or 0.0) < 0 else "not significantly different")

    def summary(self) -> str:
        head = f"{self.name} h{self.horizon}: shadow v{self.shadow} vs champion v{self.champion} on {self.n} resolved rows"
        if self.lift is None:
            return f"{head} — {self.note}"
        return (f"{head}: {self.shadow_accuracy:.1%} vs {self.champion_accuracy:.1%}, lift {self.lift:+.1%} "
                f"[CI {self.ci_low:+.1%}, {self.ci_high:+.1%}], p = {self.p_value:.3f} — {self.verdict}"
                + ("; promoted" if self.promoted else "") + (f"; {self.note}" if self.note else ""))

    @model_serializer(mode="wrap")
    def _with_verdict(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        """The stored form adds ``verdict`` and the ``summary`` line (read back, they are ignored)."""
        return {**handler(self), "verdict": self.verdict, "summary": self.summary()}


class PaperDay(Record):
    """Realised P&L of one UTC day: the ledger's compounded return and buy & hold's."""

    day: str
    live_return: float
    buy_and_hold: float
    position: float  # the position held at the day's last period
    booked: bool = False  # stored in paper_ledger with these values


class PaperLedger(Record):
    """One series × horizon: the served forecasts traded under the backtest convention, beside buy
    & hold over the same periods, the live Sharpe's 95% interval and the champion's backtest Sharpe."""

    symbol: str
    timeframe: str
    horizon: int
    n_forecasts: int
    abstained: int
    n_periods: int
    start: str
    end: str
    live_return: Num  # compounded over the periods; None (null) only if undefined
    buy_and_hold: Num
    live_sharpe: Num = None
    sharpe_ci: tuple[float, float] | None = None
    backtest_sharpe: Num = None
    models: tuple[str, ...] = ()
    days: tuple[PaperDay, ...] = ()
    booking_note: str | None = None  # the booked days disagree with the forecasts (resolved out of order)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n_days(self) -> int:
        return len(self.days)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def booked_days(self) -> int:
        return sum(d.booked for d in self.days)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def booked_through(self) -> str | None:
        return max((d.day for d in self.days if d.booked), default=None)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def backtest_inside_ci(self) -> bool | None:
        if self.backtest_sharpe is None or self.sharpe_ci is None:
            return None
        return self.sharpe_ci[0] <= self.backtest_sharpe <= self.sharpe_ci[1]


class PaperReport(Record):
    """``candor paper --output-json``: the store's (masked) URL and its ledgers."""

    database: str
    ledgers: tuple[PaperLedger, ...] = ()
