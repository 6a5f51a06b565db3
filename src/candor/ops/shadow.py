"""The shadow challenger's live comparison: shadow vs champion on the same resolved forecasts.

Why it looks like this:

* The forecast job writes the shadow version's forecast of every bar the champion forecasts
  (``ml_forecasts.shadow`` true, never served). Once resolved, the two are compared on exactly
  the bars both forecast — the paired test (:func:`candor.evaluate.lift_test`: block bootstrap for
  serially dependent rows, Student-t interval at ``evaluation.alpha``), lift = shadow − champion
  accuracy.
* The models are compared, not the abstention rule: each row's call is the model's own direction
  (argmax of its stored class probabilities), so an abstention neither hides a miss nor costs a hit.
* The shadow is promoted (audit row: actor ``candor-drift``, the lift, CI and p-value as reason)
  only when the lift's whole interval is above zero and at least ``drift.min_samples`` rows were
  compared; otherwise the comparison is reported and nothing moves.
* **Cool-down.** A significantly better shadow still waits while the champion alias of its model
  moved (promotion, rollback) less than ``alerts.rollback_cooldown_hours`` ago — the rule the
  automatic rollback keeps — so a new champion is judged on its own forecasts first. The wait is an
  audit row (alias ``shadow``, the shadow version unchanged, the reason saying how long remains).
* :func:`live_comparison` is the same comparison without the promotion, for the dashboard.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import numpy as np

from candor.errors import CandorError
from candor.records.live import ShadowComparison
from candor.registry.aliases import SHADOW, champion_moved_within
from candor.store import forecasts, record_alias_event
from candor.store.forecasts import CLASSES, DIRECTIONS

log = logging.getLogger(__name__)
ACTOR = "candor-drift"


def model_call(row: Any) -> str:
    """The model's own direction of a stored forecast: argmax of its probabilities (the stored
    direction when they are missing) — an abstention still records what the model thought. A class
    the model cannot produce (NEUTRAL under binary labels) is stored null and counts as 0."""
    probs = [getattr(row, f"prob_{c}") for c in CLASSES]
    if all(p is None for p in probs):
        return str(row.direction)
    return DIRECTIONS[int(np.argmax([-1.0 if p is None else p for p in probs]))]


def paired_hits(champion_rows: list[Any], shadow_rows: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Hit (1) / miss (0) of champion and shadow on the bars both forecast and both resolved,
    oldest bar first."""
    theirs = {r.bar_ts: r for r in shadow_rows if r.realized_direction is not None}
    pairs = [(c, theirs[c.bar_ts]) for c in sorted(champion_rows, key=lambda r: r.bar_ts)
             if c.realized_direction is not None and c.bar_ts in theirs]
    champ = np.array([model_call(c) == c.realized_direction for c, _ in pairs], dtype=float)
    shadow = np.array([model_call(s) == s.realized_direction for _, s in pairs], dtype=float)
    return champ, shadow


def compare(name: str, horizon: int, champion: str, shadow: str, champion_rows: list[Any], shadow_rows: list[Any],
            *, alpha: float, n_boot: int, min_samples: int) -> ShadowComparison:
    """The paired test of the shadow's hits against the champion's on their common resolved rows."""
    champ, other = paired_hits(champion_rows, shadow_rows)
    n = len(champ)
    if n < min_samples:
        return ShadowComparison(name=name, horizon=horizon, champion=champion, shadow=shadow, n=n,
                                note=f"too few common resolved forecasts to compare ({n} < drift.min_samples {min_samples})")
    from candor.evaluate import lift_test  # lazy: scipy loads only where a comparison is made

    test = lift_test(other, champ, n_boot=n_boot, alpha=alpha, horizon=horizon)
    return ShadowComparison(name=name, horizon=horizon, champion=champion, shadow=shadow, n=n,
                            champion_accuracy=float(champ.mean()), shadow_accuracy=float(other.mean()),
                            lift=test.estimate, ci_low=test.ci_low, ci_high=test.ci_high, p_value=test.p_value)


def live_comparison(engine: Any, registry: Any, config: Any, name: str, champion_version: str, symbol: str,
                    timeframe: str, horizon: int) -> ShadowComparison | None:
    """Model ``name``'s shadow against its champion ``champion_version`` on their common resolved
    forecasts, nothing moved (None: the model has no shadow)."""
    shadow = registry.shadow_index().get(name)
    if shadow is None or shadow == str(champion_version):
        return None
    rows = forecasts(engine, symbol, timeframe, horizon=horizon, resolved=True, shadow=None)
    mine = [r for r in rows if not r.shadow and (r.model_name, str(r.model_version)) == (name, str(champion_version))]
    theirs = [r for r in rows if r.shadow and (r.model_name, str(r.model_version)) == (name, shadow)]
    return compare(name, horizon, str(champion_version), shadow, mine, theirs, alpha=config.evaluation.alpha,
                   n_boot=config.evaluation.n_boot, min_samples=config.drift.min_samples)


def cooldown_wait(engine: Any, name: str, hours: float, now: datetime | None = None) -> str | None:
    """Why a promotion of ``name`` must wait — its champion moved less than ``hours`` ago — else None."""
    recent = champion_moved_within(engine, name, hours, now)
    if recent is None:
        return None
    age_h, move = recent
    return (f"waited: the champion of {name} moved {age_h:.1f} h ago ({move.action}); the shadow is promoted "
            f"once alerts.rollback_cooldown_hours = {hours:g} have passed")


def check_shadow(services: Any, champion: Any, symbol: str, timeframe: str,
                 now: datetime | None = None) -> ShadowComparison | None:
    """Compare ``champion``'s model's shadow with it (None: no shadow) and promote a significantly
    better shadow once the champion's cool-down has passed (a wait is an audit row); a refused
    promotion (the shadow failed or was archived since) is reported."""
    registry, config, engine = services.registry, services.config, services.store.engine
    result = live_comparison(engine, registry, config, champion.name, champion.version, symbol, timeframe,
                             champion.horizon)
    if result is None:
        return None
    if result.significantly_better:
        reason = (f"shadow significantly better than champion v{champion.version} on {result.n} live resolved "
                  f"forecasts: lift {result.lift:+.4f} [CI {result.ci_low:+.4f}, {result.ci_high:+.4f}], "
                  f"p = {result.p_value:.4g}")
        wait = cooldown_wait(engine, champion.name, config.alerts.rollback_cooldown_hours, now)
        if wait is not None:
            record_alias_event(engine, model_name=champion.name, alias=SHADOW, action="shadow",
                               from_version=result.shadow, to_version=result.shadow, actor=ACTOR,
                               reason=f"{reason}; {wait}"[:1000])
            result = result.model_copy(update={"note": wait})
        else:
            try:
                registry.promote(champion.name, result.shadow, actor=ACTOR, reason=reason)
                result = result.model_copy(update={"promoted": True})
            except CandorError as exc:
                result = result.model_copy(update={"note": f"not promoted: {exc}"})
    log.info("shadow %s", result.summary())
    return result
