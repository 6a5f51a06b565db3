"""The shadow alias (issue 24 item 3): validated non-champions only, one per series, audited."""

from __future__ import annotations

import pytest
from registry_helpers import registered, report

from candor.errors import RegistryError
from candor.registry import CHAMPION, Registry
from candor.registry.aliases import SHADOW, current_aliases
from candor.store import alias_events

NAME = "candor.SPX.d1"


def test_shadow_refusals_replace_and_promotion(stores, tmp_path):
    reg = Registry(stores.client, stores.engine, max_model_age_days=60)
    champion, first, second = (registered(reg, stores, tmp_path / n) for n in ("a", "b", "c"))
    failed = registered(reg, stores, tmp_path / "f", rep=report(0.55, "no significant edge"))
    archived = registered(reg, stores, tmp_path / "x")
    reg.archive(NAME, archived, actor="t")
    reg.promote(NAME, champion, actor="t")

    def refused(version, match, **kwargs):
        with pytest.raises(RegistryError, match=match) as caught:
            reg.shadow(NAME, version, actor="t", **kwargs)
        assert "\n" not in str(caught.value)

    refused(failed, "is failed .*only a validated version")
    refused(archived, "is archived")
    refused(champion, "is the champion")
    assert reg.shadow(NAME, first, actor="t", reason="try it").version == first
    refused(first, "already the shadow")
    refused(second, rf"already has a shadow \(version {first}\).*--replace")
    assert reg.shadow(NAME, second, replace=True, actor="t").note == f"replaced shadow {first}"
    assert reg.shadow_index()[NAME] == second
    trail = [(e.from_version, e.to_version, e.action) for e in alias_events(stores.engine, NAME, SHADOW)]
    assert trail == [(None, first, "shadow"), (first, second, "shadow")]
    reg.promote(NAME, second, actor="t")  # a promoted shadow stops shadowing
    aliases = current_aliases(stores.client, NAME)
    assert aliases[CHAMPION] == second and SHADOW not in aliases and NAME not in reg.shadow_index()
    assert reg.reconcile(NAME) == []
