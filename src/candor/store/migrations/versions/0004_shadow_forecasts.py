"""Shadow challengers: ``ml_forecasts.shadow`` and the ``shadow`` alias action.

``shadow`` (boolean, false by default) marks a forecast made by the series' ``shadow`` version
(:meth:`candor.registry.Registry.shadow`): written beside the champion's and never served. It joins
the unique key — (symbol, timeframe, horizon, bar_ts, shadow) — so the champion's row and the
shadow's row of one bar coexist. ``alias_events.action`` admits ``shadow`` (a version put in, or
taken out of, the shadow alias).

The downgrade refuses while a shadow forecast or a shadow alias event is stored: earlier candor
would serve the former and cannot read the latter.

Revision ID: 0004_shadow_forecasts
Revises: 0003_forecast_sets
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0004_shadow_forecasts"
down_revision = "0003_forecast_sets"
branch_labels = None
depends_on = None

OLD_ACTIONS = ("promote", "rollback", "force_promote", "archive", "delete", "auto_rollback")
NEW_ACTIONS = (*OLD_ACTIONS, "shadow")
OLD_KEY = "uq_ml_forecasts_symbol_timeframe_horizon_bar_ts"
NEW_KEY = "uq_ml_forecasts_symbol_timeframe_horizon_bar_ts_shadow"


def _actions(actions: tuple[str, ...]) -> str:
    return "action IN ({})".format(", ".join(f"'{a}'" for a in actions))


def upgrade() -> None:
    with op.batch_alter_table("ml_forecasts") as batch:
        batch.add_column(sa.Column("shadow", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.drop_constraint(OLD_KEY, type_="unique")
        batch.create_unique_constraint(NEW_KEY, ["symbol", "timeframe", "horizon", "bar_ts", "shadow"])
    with op.batch_alter_table("alias_events") as batch:
        batch.drop_constraint("ck_alias_events_action", type_="check")
        batch.create_check_constraint("ck_alias_events_action", _actions(NEW_ACTIONS))


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT COUNT(*) FROM ml_forecasts WHERE shadow")).scalar_one()
    events = bind.execute(sa.text("SELECT COUNT(*) FROM alias_events WHERE action = 'shadow'")).scalar_one()
    if rows or events:
        raise RuntimeError(f"the store holds {rows} shadow forecast(s) and {events} shadow alias event(s) that "
                           "earlier candor cannot read; delete them before downgrading below 0004_shadow_forecasts")
    with op.batch_alter_table("alias_events") as batch:
        batch.drop_constraint("ck_alias_events_action", type_="check")
        batch.create_check_constraint("ck_alias_events_action", _actions(OLD_ACTIONS))
    with op.batch_alter_table("ml_forecasts") as batch:
        batch.drop_constraint(NEW_KEY, type_="unique")
        batch.create_unique_constraint(OLD_KEY, ["symbol", "timeframe", "horizon", "bar_ts"])
        batch.drop_column("shadow")
