"""Jinja filters that turn numbers into what a trader reads: 54.2%, +3.1 pts, 12 d, colours."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from candor.api.charts import DIRECTION_COLOURS, STATUS_COLOURS
from candor.records.verdict import Verdict


def pct(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value) * 100:.{digits}f}%"


def pts(value: Any) -> str:
    """A lift in percentage points with its sign: +3.1 pts."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value) * 100:+.1f} pts"


def num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{float(value):,.{digits}f}"


def when(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M") if (value.hour or value.minute) else value.strftime("%Y-%m-%d")
    return str(value)[:16]


def age(days: Any) -> str:
    if days is None:
        return "–"
    return "today" if days == 0 else f"{days} d"


#: Badge colour per verdict. Every other :class:`Verdict` value (the lift test's third answer:
#: significantly worse than the baseline) is red; text that is no verdict at all is grey.
_VERDICT_CLASSES = {Verdict.SIGNIFICANT_EDGE: "good", Verdict.NO_SIGNIFICANT_EDGE: "warn"}
_VERDICT_VALUES = {v.value for v in Verdict}


def verdict_class(verdict: Any) -> str:
    """green: a significant edge; amber: no significant edge; red: significantly worse than the
    baseline (or any further verdict); grey: nothing to judge."""
    if verdict is None or str(verdict) not in _VERDICT_VALUES:
        return "none"
    return _VERDICT_CLASSES.get(Verdict(str(verdict)), "bad")


def verdict_text(verdict: Any) -> str:
    """The verdict's own words, capitalised for a badge or banner ("Significant edge")."""
    if verdict is None or not str(verdict):
        return "No verdict"
    text = str(verdict)
    return text[:1].upper() + text[1:]


FILTERS = {"pct": pct, "pts": pts, "num": num, "when": when, "age": age, "verdict_class": verdict_class,
           "verdict_text": verdict_text}
GLOBALS = {"direction_colours": DIRECTION_COLOURS, "status_colours": STATUS_COLOURS, "Verdict": Verdict}
