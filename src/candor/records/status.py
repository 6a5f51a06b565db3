"""Drift statuses and their severity, defined once.

A leaf module (no candor imports) so the drift monitor, the alerts, the store, the config and the
web pages can all name a status without importing one another. ``DriftStatus`` is a ``StrEnum``:
a member equals its string, which is what ``drift_monitoring.status``, the alert payloads and
``alerts.min_status`` in a config file hold.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BeforeValidator


class DriftStatus(StrEnum):
    """The drift monitor's verdict on one series: four accuracy bands, or too little to judge."""

    NORMAL = "normal"
    MONITOR = "monitor"
    DRIFT = "drift"
    EMERGENCY = "emergency"
    INSUFFICIENT = "insufficient"

    @property
    def severity(self) -> int:
        """0 when there is nothing to act on (normal, insufficient), then monitor 1, drift 2, emergency 3."""
        return _SEVERITY[self]


_SEVERITY = {DriftStatus.NORMAL: 0, DriftStatus.INSUFFICIENT: 0, DriftStatus.MONITOR: 1,
             DriftStatus.DRIFT: 2, DriftStatus.EMERGENCY: 3}

#: The statuses ``alerts.min_status`` may name; below ``monitor`` every series would alert every day.
ALERT_LEVELS = (DriftStatus.MONITOR, DriftStatus.DRIFT, DriftStatus.EMERGENCY)


def _alert_level(value: object) -> object:
    if value not in ALERT_LEVELS:
        raise ValueError(f"must be one of {', '.join(ALERT_LEVELS)}")
    return value


#: A config field holding one of :data:`ALERT_LEVELS`; accepts the plain strings. The validator
#: words the error (pydantic's own names the members by their repr).
AlertLevel = Annotated[Literal[DriftStatus.MONITOR, DriftStatus.DRIFT, DriftStatus.EMERGENCY],
                       BeforeValidator(_alert_level)]
