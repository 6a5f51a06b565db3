"""Registry lifecycle on real MLflow + SQLite stores: register, gates, aliases, audit, loading."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from registry_helpers import log_run, make_artifact, registered, report

from candor.registry.artifact import CandorModel
from candor.errors import RegistryError
from candor.registry import CHAMPION, PREVIOUS, Registry
from candor.registry import aliases as alias_mod
from candor.store import alias_events

NAME = "candor.SPX.d1"


@pytest.fixture
def reg(stores):
    return Registry(stores.client, stores.engine, max_model_age_days=60)


def _trail(stores, alias=None):
    return [(e.alias, e.from_version, e.to_version, e.action) for e in alias_events(stores.engine, NAME, alias)]


def test_register_creates_staged_version_with_hash_and_metrics(reg, stores, tmp_path):
    artifact = make_artifact(tmp_path / "a")
    from registry_helpers import log_run

    from candor.registry.artifact import MANIFEST_FILE, sha256_file

    version = reg.register(log_run(stores, artifact), artifact)
    assert (version.name, version.version, version.status) == (NAME, "1", "staged")
    mv = stores.client.get_model_version(NAME, "1")
    assert mv.tags["status"] == "staged"
    assert mv.tags["manifest_sha256"] == sha256_file(artifact / MANIFEST_FILE)
    assert float(mv.tags["oos_accuracy"]) == pytest.approx(0.65)
    assert mv.tags["holdout_start"] == "2018-01-02"


def test_register_refuses_a_run_without_the_logged_model(reg, stores, tmp_path):
    artifact = make_artifact(tmp_path / "a")
    run = stores.client.create_run(stores.experiment_id)
    with pytest.raises(RegistryError, match="has no logged model"):
        reg.register(run.info.run_id, artifact)
    with pytest.raises(RegistryError, match="unknown MLflow run 'nope'"):
        reg.register("nope", artifact)


def test_gates_validate_or_fail_with_reasons(reg, stores, tmp_path):
    good = registered(reg, stores, tmp_path / "good")
    bad = registered(reg, stores, tmp_path / "bad", rep=report(0.55, "no significant edge"))
    assert stores.client.get_model_version(NAME, good).tags["status"] == "validated"
    tags = stores.client.get_model_version(NAME, bad).tags
    assert tags["status"] == "failed"
    assert "oos accuracy 0.550 < 0.600" in tags["gate_reasons"]
    assert "no significant edge over the majority baseline" in tags["gate_reasons"]


def test_promote_refuses_failed_unless_forced_and_records_force(reg, stores, tmp_path):
    bad = registered(reg, stores, tmp_path / "bad", rep=report(0.55))
    with pytest.raises(RegistryError, match=r"version 1 of candor.SPX.d1 is failed \(.*0.550 < 0.600.*--force"):
        reg.promote(NAME, bad, actor="alice", reason="try")
    assert CHAMPION not in stores.client.get_registered_model(NAME).aliases
    reg.promote(NAME, bad, force=True, actor="alice", reason="hotfix")
    assert stores.client.get_registered_model(NAME).aliases == {CHAMPION: 1}
    event = alias_events(stores.engine, NAME)[-1]
    assert (event.action, event.actor, event.reason, event.to_version) == ("force_promote", "alice", "hotfix", "1")


def test_promote_moves_champion_and_previous_and_rollback_swaps(reg, stores, tmp_path):
    v1, v2, v3 = (registered(reg, stores, tmp_path / f"v{i}") for i in (1, 2, 3))
    reg.promote(NAME, v1, actor="a", reason="first")
    reg.promote(NAME, v2, actor="a", reason="better")
    assert stores.client.get_registered_model(NAME).aliases == {CHAMPION: 2, PREVIOUS: 1}
    reg.promote(NAME, v3, actor="b", reason="best")
    assert stores.client.get_registered_model(NAME).aliases == {CHAMPION: 3, PREVIOUS: 2}
    back = reg.rollback(NAME, actor="c", reason="drift")
    assert back.version == "2"
    assert stores.client.get_registered_model(NAME).aliases == {CHAMPION: 2, PREVIOUS: 3}
    assert _trail(stores, CHAMPION) == [
        (CHAMPION, None, "1", "promote"), (CHAMPION, "1", "2", "promote"), (CHAMPION, "2", "3", "promote"),
        (CHAMPION, "3", "2", "rollback")]
    assert _trail(stores, PREVIOUS) == [
        (PREVIOUS, None, "1", "promote"), (PREVIOUS, "1", "2", "promote"), (PREVIOUS, "2", "3", "rollback")]
    with pytest.raises(RegistryError, match="already the champion"):
        reg.promote(NAME, "2", actor="a")


def test_rollback_without_previous_or_champion(reg, stores, tmp_path):
    v1 = registered(reg, stores, tmp_path / "v1")
    with pytest.raises(RegistryError, match="has no champion to roll back"):
        reg.rollback(NAME, actor="a")
    reg.promote(NAME, v1, actor="a")
    with pytest.raises(RegistryError, match="no previous champion to roll back to"):
        reg.rollback(NAME, actor="a")


def test_archive_and_delete_refuse_the_champion(reg, stores, tmp_path):
    v1, v2, v3 = (registered(reg, stores, tmp_path / f"v{i}") for i in (1, 2, 3))
    reg.promote(NAME, v1, actor="a")
    reg.promote(NAME, v2, actor="a")
    for verb in (reg.archive, reg.delete):
        with pytest.raises(RegistryError, match="version 2 is the champion of candor.SPX.d1; refusing to"):
            verb(NAME, v2, actor="a")
    reg.archive(NAME, v1, actor="a", reason="old")
    assert stores.client.get_model_version(NAME, v1).tags["status"] == "archived"
    assert stores.client.get_registered_model(NAME).aliases == {CHAMPION: 2}
    assert _trail(stores, PREVIOUS)[-1] == (PREVIOUS, "1", None, "archive")
    with pytest.raises(RegistryError, match="archived; register a new version"):
        reg.promote(NAME, v1, force=True, actor="a")
    reg.delete(NAME, v3, actor="a")
    assert [r.version for r in reg.history(NAME)] == ["2", "1"]


def test_history_rows_are_typed_and_complete(reg, stores, tmp_path):
    registered(reg, stores, tmp_path / "v1")
    registered(reg, stores, tmp_path / "v2", rep=report(0.5))
    reg.promote(NAME, "1", actor="a")
    rows = reg.history("SPX/d1")
    assert [(r.version, r.status, r.aliases) for r in rows] == [("2", "failed", ()), ("1", "validated", ("champion",))]
    assert rows[1].metrics["oos_accuracy"] == pytest.approx(0.65)
    assert rows[1].verdict == "significant edge" and rows[0].gate_reasons.startswith("minimum_metrics:")
    assert isinstance(rows[0].created, datetime) and rows[0].created.tzinfo is not None
    listed = reg.list_models()
    assert [(m.name, m.versions, m.latest, m.champion, m.previous) for m in listed] == [(NAME, 2, "2", "1", None)]


def test_unknown_model_version_alias_messages(reg, stores, tmp_path):
    with pytest.raises(RegistryError, match="unknown model 'candor.ABC.d1'; the registry is empty"):
        reg.history("candor.ABC.d1")
    registered(reg, stores, tmp_path / "v1")
    with pytest.raises(RegistryError, match=r"unknown model 'candor.ABC.d1'; known models: candor.SPX.d1"):
        reg.promote("ABC/d1", "1", actor="a")
    with pytest.raises(RegistryError, match=r"unknown version 9 of candor.SPX.d1 \(versions: 1\)"):
        reg.promote(NAME, "9", actor="a")
    with pytest.raises(RegistryError, match=r"candor.SPX.d1 has no alias 'best' \(aliases: none\)"):
        reg.archive(NAME, "best", actor="a")
    with pytest.raises(RegistryError, match="is not a candor model"):
        reg.history("SPX.d1")


def test_load_champion_verifies_hash_and_age(reg, stores, tmp_path):
    v1 = registered(reg, stores, tmp_path / "v1", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(RegistryError, match="no champion for SPX/d1 — run: candor train --dataset sp500 --promote"):
        reg.champion("SPX", "d1")
    reg.promote(NAME, v1, actor="a")
    model = reg.champion("SPX", "d1", now=datetime(2026, 2, 1, tzinfo=UTC)).model
    assert isinstance(model, CandorModel) and model.symbol == "SPX"
    with pytest.raises(RegistryError, match=r"champion of SPX/d1 is 75 days old \(max 60\); retrain: "
                                            r"candor train --dataset sp500 --promote"):
        reg.champion("SPX", "d1", now=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=75, hours=1))
    unlimited = Registry(stores.client, stores.engine, max_model_age_days=None)
    assert unlimited.champion("SPX", "d1", now=datetime(2030, 1, 1, tzinfo=UTC)).version == v1
    logged = stores.client.get_model_version(NAME, v1).source.removeprefix("file://")
    manifest = json.loads(open(f"{logged}/manifest.json").read())
    manifest["report"]["oos"]["accuracy"] = 0.99
    open(f"{logged}/manifest.json", "w").write(json.dumps(manifest))
    # The loaded model stays the verified one; a registry that loads it afresh refuses the edit.
    assert reg.champion("SPX", "d1", now=datetime(2026, 2, 1, tzinfo=UTC)).model is model
    with pytest.raises(RegistryError, match="was modified after registration"):
        Registry(stores.client, stores.engine).champion("SPX", "d1", now=datetime(2026, 2, 1, tzinfo=UTC))


def test_tampered_model_file_refused_and_non_dataset_hint(reg, stores, tmp_path):
    v1 = registered(reg, stores, tmp_path / "v1", symbol="XYZ", timeframe="h1")
    with pytest.raises(RegistryError, match="--data PATH --symbol XYZ --timeframe h1 --promote"):
        reg.champion("XYZ", "h1")
    reg.promote("XYZ/h1", v1, actor="a")
    logged = stores.client.get_model_version("candor.XYZ.h1", v1).source.removeprefix("file://")
    with open(f"{logged}/model.pkl.gz", "ab") as handle:
        handle.write(b"evil")
    with pytest.raises(RegistryError, match="model.pkl.gz is missing or modified"):
        reg.champion("XYZ", "h1")


def test_compare_on_identical_holdout_promotes_only_if_not_worse(reg, stores, tmp_path):
    registered(reg, stores, tmp_path / "v1", rep=report(0.65, holdout=0.62))
    reg.promote(NAME, "1", actor="a")
    registered(reg, stores, tmp_path / "v2", rep=report(0.66, holdout=0.60))
    worse = reg.compare(NAME, "2", margin=0.01, promote=True)
    assert (worse.challenger_wins, worse.promoted, worse.champion) == (False, False, "1")
    assert "identical holdout 2018-01-02 .. 2018-12-31" in worse.basis
    within = reg.compare(NAME, "2", margin=0.03, promote=True, actor="bot")
    assert (within.challenger_wins, within.promoted) == (True, True)
    assert stores.client.get_registered_model(NAME).aliases == {CHAMPION: 2, PREVIOUS: 1}
    registered(reg, stores, tmp_path / "v3", holdout_start="2019-01-02", holdout_end="2019-12-31")
    with pytest.raises(RegistryError, match="their holdouts differ .*pass the bars to re-score both"):
        reg.compare(NAME, "3")


def test_reconcile_rolls_interrupted_moves_forward(reg, stores, tmp_path, monkeypatch):
    for i in (1, 2, 3):
        registered(reg, stores, tmp_path / f"v{i}")
    reg.promote(NAME, "1", actor="a")
    reg.promote(NAME, "2", actor="a")
    real = alias_mod._set_alias
    for applied in (0, 1):  # crash before any MLflow move, and after `previous` moved
        calls = []

        def crash(client, name, alias, version, calls=calls, applied=applied):
            if len(calls) == applied:
                raise KeyboardInterrupt("simulated kill")
            calls.append(alias)
            real(client, name, alias, version)

        monkeypatch.setattr(alias_mod, "_set_alias", crash)
        target = "3" if applied == 0 else "1"
        with pytest.raises(KeyboardInterrupt):
            reg.promote(NAME, target, actor="a")
        monkeypatch.setattr(alias_mod, "_set_alias", real)
        assert stores.client.get_registered_model(NAME).aliases[CHAMPION] != int(target)
        fixes = reg.reconcile(NAME)
        assert fixes and fixes[-1].alias == CHAMPION and fixes[-1].to_version == target
        assert stores.client.get_registered_model(NAME).aliases[CHAMPION] == int(target)
    assert reg.reconcile(NAME) == []


def test_reconcile_records_a_move_made_outside_candor(reg, stores, tmp_path):
    registered(reg, stores, tmp_path / "v1")
    registered(reg, stores, tmp_path / "v2")
    reg.promote(NAME, "1", actor="a")
    stores.client.set_registered_model_alias(NAME, CHAMPION, "2")  # e.g. in the MLflow UI
    fixes = reg.reconcile(NAME)
    assert [(f.alias, f.kind, f.from_version, f.to_version) for f in fixes] == [(CHAMPION, "recorded", "1", "2")]
    last = alias_events(stores.engine, NAME)[-1]
    assert (last.actor, last.from_version, last.to_version) == ("candor-reconcile", "1", "2")


def test_a_move_from_a_stale_alias_is_refused_and_writes_nothing(reg, stores, tmp_path):
    from candor.registry.aliases import AliasMove, apply_moves

    versions = [registered(reg, stores, tmp_path / f"v{i}") for i in (1, 2)]
    reg.promote(NAME, versions[0], actor="first")
    before = alias_events(stores.engine, NAME)
    with pytest.raises(RegistryError, match="was moved to 1 by first meanwhile"):
        apply_moves(stores.client, stores.engine, NAME, [AliasMove(CHAMPION, None, versions[1])],
                    action="promote", actor="second", reason=None)
    assert [e.id for e in alias_events(stores.engine, NAME)] == [e.id for e in before]
    assert stores.client.get_registered_model(NAME).aliases[CHAMPION] == int(versions[0])


def test_simultaneous_promotions_leave_one_chained_trail(reg, stores, tmp_path):
    """Two promotions at the same instant used to both claim the champion, the trail out of order."""
    import threading

    versions = [registered(reg, stores, tmp_path / f"v{i}") for i in (1, 2, 3)]
    reg.promote(NAME, versions[0], actor="seed")
    barrier, outcomes = threading.Barrier(2), {}

    def promote(version: str) -> None:
        mine = Registry(stores.client, stores.engine)
        barrier.wait()
        try:
            mine.promote(NAME, version, actor=f"p{version}")
            outcomes[version] = "ok"
        except RegistryError as exc:
            outcomes[version] = str(exc)

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert "ok" in outcomes.values(), outcomes
    champion_events = [e for e in alias_events(stores.engine, NAME) if e.alias == CHAMPION]
    for earlier, later in zip(champion_events, champion_events[1:]):
        assert later.from_version == earlier.to_version  # a chain, never two moves from one version
    actual = str(stores.client.get_registered_model(NAME).aliases[CHAMPION])
    assert champion_events[-1].to_version == actual and reg.reconcile(NAME) == []


def test_universe_verdict_is_tagged_and_fails_an_edge_that_does_not_survive_the_correction(reg, stores, tmp_path):
    kept = registered(reg, stores, tmp_path / "a")
    lost = registered(reg, stores, tmp_path / "b", symbol="IXIC")
    assert reg.version("candor.SPX.d1", kept).tags["status"] == "validated"
    survived = reg.record_universe_verdict("candor.SPX.d1", kept, adjusted_p_value=0.004, verdict="significant edge",
                                           correction="Benjamini-Hochberg", n_series=12, require_edge=True)
    assert survived.status == "validated"
    failed = reg.record_universe_verdict("candor.IXIC.d1", lost, adjusted_p_value=0.31, verdict="no significant edge",
                                         correction="Benjamini-Hochberg", n_series=12, require_edge=True)
    assert failed.status == "failed" and "adjusted p = 0.310 across 12 series" in failed.gate_reasons[-1]
    tags = reg.version("candor.IXIC.d1", lost).tags
    assert (tags["status"], tags["adjusted_verdict"], tags["universe_size"]) == ("failed", "no significant edge", "12")
    assert "universe_edge" in tags["gate_reasons"]
    # Without the gate, the adjusted verdict is recorded but the status stands.
    other = registered(reg, stores, tmp_path / "c", symbol="AAPL")
    kept_status = reg.record_universe_verdict("candor.AAPL.d1", other, adjusted_p_value=0.31,
                                              verdict="no significant edge", correction="none", n_series=2,
                                              require_edge=False)
    assert kept_status.status == "validated"


def test_two_symbols_sharing_one_model_name_are_refused(reg, stores, tmp_path):
    """``EURUSD=X`` and ``EURUSD-X`` both map to candor.EURUSD-X.d1: the second symbol is refused
    before a version is created, so every registered version reads back as its one series."""
    first = registered(reg, stores, tmp_path / "a", symbol="EURUSD=X")
    assert first == "1"
    artifact = make_artifact(tmp_path / "b", symbol="EURUSD-X")
    with pytest.raises(RegistryError, match=r"candor\.EURUSD-X\.d1 holds the models of symbol 'EURUSD=X'; "
                                            r"'EURUSD-X' would share its name"):
        reg.register(log_run(stores, artifact), artifact)
    assert [str(v.version) for v in stores.client.search_model_versions("name='candor.EURUSD-X.d1'")] == ["1"]
    assert registered(reg, stores, tmp_path / "c", symbol="EURUSD=X") == "2"  # the owner keeps publishing
