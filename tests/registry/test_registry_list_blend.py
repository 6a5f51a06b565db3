"""`candor registry list` shows each champion's blend: the class prior's share λ beside the member
weights, and says when the model forecasts the class frequencies (issue 25 item 3)."""

from __future__ import annotations

from registry_helpers import cli_stores, log_run, make_artifact, report

from candor.cli import main


def test_registry_list_shows_the_champions_prior_share(tmp_path, store_templates, monkeypatch, capsys):
    from candor.cli.app import console

    registry, engine, holder = cli_stores(tmp_path / "home", store_templates, monkeypatch)
    rep = report().model_copy(update={"weights": {"logreg": 0.67, "lgbm": 0.33}, "prior_weight": 0.95})
    artifact = make_artifact(tmp_path / "v1", rep=rep)
    version = registry.register(log_run(holder, artifact), artifact)
    registry.validate(version.name, version.version)
    registry.promote(version.name, version.version, force=True, actor="test", reason="test")
    summary = registry.list_models()[0]
    assert summary.prior_weight == 0.95 and summary.member_weights == {"logreg": 0.67, "lgbm": 0.33}
    engine.dispose()

    monkeypatch.setattr(console, "width", 250)
    assert main(["registry", "list"]) == 0
    out = capsys.readouterr().out
    assert "prior λ 95% · members 5%: logreg 67%, lgbm 33%" in out
    assert "this model forecasts the class frequencies" in out
