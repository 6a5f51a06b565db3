"""Alerts: a log line always, plus a JSON webhook POST (Slack-compatible) when configured.

Why the webhook never raises: an alert is a side effect of a monitoring job; a dead Slack must
not turn a finished drift check into a failed one. Each POST is retried with exponential backoff
and a per-attempt timeout, every failed attempt is logged, and the caller gets a typed
:class:`Delivery` saying what happened. The payload carries Slack's ``text`` plus the structured
details, so one URL serves Slack, Teams-style relays and plain JSON receivers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from candor.config import AlertConfig
from candor.records.status import DriftStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    """One drift verdict worth telling someone about."""

    symbol: str
    timeframe: str
    status: DriftStatus
    text: str
    details: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The JSON body: Slack's ``text`` first, then everything a program needs."""
        return {"text": self.text, "source": "candor", **asdict(self)}


@dataclass(frozen=True)
class Delivery:
    """What became of one webhook POST: delivered or not, after how many attempts, last error."""

    delivered: bool
    attempts: int
    error: str | None = None
    status_code: int | None = None


def should_alert(status: str, min_status: str) -> bool:
    """True when ``status`` is at least as severe as ``min_status`` (``alerts.min_status``)."""
    return DriftStatus(status).severity >= DriftStatus(min_status).severity


def post_webhook(url: str, payload: dict[str, Any], *, retries: int, timeout_s: float, backoff_s: float,
                 sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """POST ``payload`` as JSON; retry on connection errors, timeouts and non-2xx answers.

    A malformed URL (``httpx.InvalidURL``, which is no ``HTTPError``) is given up at once: no
    retry can fix it.
    """
    error, code = None, None
    for attempt in range(1, retries + 2):
        try:
            response = httpx.post(url, json=payload, timeout=timeout_s)
            code = response.status_code
            if 200 <= code < 300:
                return Delivery(True, attempt, None, code)
            error = f"HTTP {code}"
        except httpx.InvalidURL as exc:
            log.error("webhook URL is invalid (%s); fix alerts.webhook_url", exc)
            return Delivery(False, attempt, f"InvalidURL: {exc}", None)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        log.warning("webhook attempt %d/%d failed: %s", attempt, retries + 1, error)
        if attempt <= retries and backoff_s > 0:
            sleep(backoff_s * 2 ** (attempt - 1))
    log.error("webhook gave up after %d attempt(s): %s", retries + 1, error)
    return Delivery(False, retries + 1, error, code)


def send_alert(alert: Alert, config: AlertConfig, *, sleep: Callable[[float], None] = time.sleep) -> Delivery | None:
    """Log the alert; POST it when a webhook URL is configured (None when there is none)."""
    level = logging.ERROR if alert.status == DriftStatus.EMERGENCY else logging.WARNING
    log.log(level, "ALERT %s", alert.text, extra={"metrics": {"symbol": alert.symbol, "timeframe": alert.timeframe,
                                                              "status": alert.status, **_numbers(alert.details)}})
    if config.webhook_url is None:
        return None
    return post_webhook(config.webhook_url.get_secret_value(), alert.payload(), retries=config.retries,
                        timeout_s=config.timeout_s, backoff_s=config.backoff_s, sleep=sleep)


def _numbers(details: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in details.items() if isinstance(v, int | float) and not isinstance(v, bool)}
