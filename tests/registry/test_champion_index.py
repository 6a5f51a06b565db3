"""The batched champion lookup agrees with reading each model's champion alias, whatever the
champion's place among its versions (newest, rolled back to, newer unpromoted versions)."""

from __future__ import annotations

import pytest
from registry_helpers import registered

from candor.registry import CHAMPION, Registry
from candor.registry.champions import champion_index
from candor.registry.direct import direct_reader


@pytest.fixture
def reg(stores):
    return Registry(stores.client, stores.engine, max_model_age_days=None)


def _by_alias(reg: Registry, names: list[str]) -> dict[str, tuple[str, str, dict]]:
    out = {}
    for name in names:
        mv = reg.client.get_model_version_by_alias(name, CHAMPION)
        out[name] = (str(mv.version), mv.run_id, dict(mv.tags))
    return out


def _flat(index: dict) -> dict[str, tuple[str, str, dict]]:
    return {name: (str(mv.version), mv.run_id, dict(mv.tags)) for name, mv in index.items()}


def test_index_equals_the_alias_lookup_for_newest_rolled_back_and_unpromoted(reg, stores, tmp_path):
    newest = [registered(reg, stores, tmp_path / "a1", symbol="AAA"), registered(reg, stores, tmp_path / "a2", symbol="AAA")]
    reg.promote("candor.AAA.d1", newest[0], actor="t")
    reg.promote("candor.AAA.d1", newest[1], actor="t")  # champion = newest version
    rolled = [registered(reg, stores, tmp_path / f"b{i}", symbol="BBB") for i in range(2)]
    reg.promote("candor.BBB.d1", rolled[0], actor="t")
    reg.promote("candor.BBB.d1", rolled[1], actor="t")
    reg.rollback("candor.BBB.d1", actor="t")  # champion = an older version
    ahead = registered(reg, stores, tmp_path / "c1", symbol="CCC")
    reg.promote("candor.CCC.d1", ahead, actor="t")
    registered(reg, stores, tmp_path / "c2", symbol="CCC")  # a newer version, not promoted
    registered(reg, stores, tmp_path / "d1", symbol="DDD")  # no champion at all

    index = champion_index(reg.client)
    assert set(index) == {"candor.AAA.d1", "candor.BBB.d1", "candor.CCC.d1"}
    assert _flat(index) == _by_alias(reg, sorted(index))
    assert str(index["candor.BBB.d1"].version) == rolled[0] and str(index["candor.CCC.d1"].version) == ahead

    # the direct read of MLflow's tables (candor forecast / drift, without MLflow) agrees row for row
    reader = direct_reader(reg.client.tracking_uri)
    assert reader is not None and _flat(reader.aliased(CHAMPION)) == _flat(index)
    newer = reg.client.get_model_version("candor.CCC.d1", str(int(ahead) + 1))
    assert _flat({"c": reader.version("candor.CCC.d1", str(newer.version))}) == _flat({"c": newer})
    assert reader.version("candor.BBB.d1", "champion").version == rolled[0]
    assert reader.version("candor.DDD.d1", "champion") is None and reader.version("candor.AAA.d1", "9") is None


def test_a_newest_version_listed_without_tags_is_read_from_the_version_search(reg, stores, tmp_path, monkeypatch):
    """A tracking server that lists models' newest versions without their tags must not make the
    index lose the manifest hash it verifies against."""
    version = registered(reg, stores, tmp_path / "a", symbol="AAA")
    reg.promote("candor.AAA.d1", version, actor="t")
    search = reg.client.search_registered_models

    def untagged(*args, **kwargs):
        page = search(*args, **kwargs)
        for model in page:
            for mv in model.latest_versions:
                mv._tags = {}
        return page

    monkeypatch.setattr(reg.client, "search_registered_models", untagged)
    index = champion_index(reg.client)
    assert _flat(index) == _by_alias(reg, ["candor.AAA.d1"]) and "manifest_sha256" in index["candor.AAA.d1"].tags
