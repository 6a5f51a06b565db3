"""The class prior's share λ wherever weights are shown (issue 25 item 3): report, charts, model page."""

from __future__ import annotations

import re

HTML = {"Accept": "text/html"}


def test_the_report_records_lambda_and_says_so_when_the_prior_dominates():
    from candor.records.report import PRIOR_NOTE, TrainingReport, parse_report, weights_text

    low = TrainingReport(weights={"logreg": 0.67, "lgbm": 0.33}, prior_weight=0.4)
    assert low.prior_note is None
    high = parse_report(TrainingReport(weights={"logreg": 0.67, "lgbm": 0.33}, prior_weight=0.92,
                                       fold_details=[{"index": 0, "train_rows": 1, "test_rows": 1, "test_start": "a",
                                                      "test_end": "b", "accuracy": 0.5, "f1": 0.5,
                                                      "train_accuracy": 0.5, "prior_weight": 1.0}]).model_dump_json())
    assert high.prior_weight == 0.92 and high.fold_details[0].prior_weight == 1.0
    assert high.prior_note.startswith(PRIOR_NOTE) and '"prior_note":"this model forecasts' in high.model_dump_json()
    assert weights_text(high.weights, 0.92) == "prior λ 92% · members 8%: logreg 67%, lgbm 33%"
    assert TrainingReport.model_validate({"weights": {"rf": 1.0}}).prior_weight is None  # an older report


def test_the_weights_chart_puts_the_prior_first_and_scales_the_members():
    from candor.api.charts import weights_chart

    chart = weights_chart({"logreg": 0.67, "lgbm": 0.33}, 0.8)
    bars = chart["data"][0]
    assert bars["y"] == ["class prior (λ)", "logreg", "lgbm"]
    assert [round(x, 3) for x in bars["x"]] == [0.8, 0.134, 0.066]
    assert "λ = 80%" in chart["layout"]["title"]["text"]
    assert weights_chart({"rf": 1.0})["data"][0]["y"] == ["rf"]  # no λ recorded: weights alone


def test_an_importance_chart_with_nothing_to_draw_is_a_sentence():
    from candor.api.charts import importance_chart
    from candor.records.report import ImportanceRow

    assert importance_chart([ImportanceRow(feature="a", importance=0.0), ImportanceRow(feature="b")]) is None
    assert importance_chart([ImportanceRow(feature="a", importance=0.01)])["data"][0]["y"] == ["a"]


def test_the_model_page_shows_lambda(client, trained):
    page = client.get(f"/models/{trained.symbol}/{trained.timeframe}", headers=HTML).text
    card = re.search(r'id="prior-share".*?<div class="value">([\d.]+)%</div>', page, re.S)
    assert card is not None and 0 <= float(card.group(1)) <= 100
    assert re.search(r"<td class=\"muted\">prior λ \d+%", page)  # per fold, beside the weights


def test_a_prior_dominated_model_page_says_it_forecasts_the_class_frequencies(client, trained, monkeypatch):
    from candor.api import queries
    from candor.records.report import ImportanceRow

    real = queries.run_report

    def dominated(run):
        report = real(run)
        return report.model_copy(update={"prior_weight": 0.95, "feature_importance": (
            ImportanceRow(feature="ret_1", importance=0.0),)})

    monkeypatch.setattr(queries, "run_report", dominated)
    page = client.get(f"/models/{trained.symbol}/{trained.timeframe}", headers=HTML).text
    assert 'id="prior-note"' in page and "This model forecasts the class frequencies" in page
    assert 'id="chart-importance"' not in page and 'id="importance-empty"' in page
    assert "do not depend on its features" in page


def test_the_training_render_shows_lambda_as_a_row_and_a_sentence():
    from rich.console import Console

    from candor.cli.render import render_blend
    from candor.records.report import MemberScore, TrainingReport

    console = Console(record=True, width=200)
    score = MemberScore(train_accuracy=0.6, oos_accuracy=0.52, f1=0.5)
    render_blend(console, TrainingReport(models={"logreg": score, "lgbm": score},
                                         weights={"logreg": 0.67, "lgbm": 0.33}, prior_weight=0.93))
    text = console.export_text()
    assert "class prior (λ)" in text and "0.93" in text
    assert "prior λ 93% · members 7%: logreg 67%, lgbm 33%" in text
    assert "this model forecasts the class frequencies" in text
    console = Console(record=True, width=200)
    render_blend(console, TrainingReport(models={"logreg": score}, weights={"logreg": 1.0}, prior_weight=0.3))
    assert "class frequencies" not in console.export_text()
