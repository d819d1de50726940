"""What a variant answers, per task: a binary model's probability and decision, a regressor's number; the fast JSON
path and the records path agree, and the log keeps the task's columns."""

from __future__ import annotations

import json

import polars as pl

from service.prediction_log import log_schema
from service.scoring import Scored, Variant


class FixedScorer:
    """Stands in for a compiled scorer: these tests are about the answer's shape, not the model's numbers."""

    def __init__(self, values: list[float]) -> None:
        self.values = values

    def predict(self, columns, rows):
        return self.values[:rows]


def _scored(variant: Variant, values: list[float]) -> Scored:
    return Scored(variant, values, variant.labels(values))


def test_a_binary_variant_answers_probability_and_its_decision_at_its_threshold():
    variant = Variant("champion", "m:1", FixedScorer([]), positive="yes", negative="no", threshold=0.3)
    scored = _scored(variant, [0.25, 0.31])
    assert json.loads(scored.json(many=True)) == scored.records()
    assert [r["prediction"] for r in scored.records()] == ["no", "yes"]
    assert scored.logged() == {"probability": [0.25, 0.31], "prediction": ["no", "yes"]}


def test_a_regression_variant_answers_its_number_and_nothing_else():
    variant = Variant("champion", "m:2", FixedScorer([]))
    scored = _scored(variant, [1234.5, 0.1 + 0.2])
    answers = json.loads(scored.json(many=True))
    assert answers == scored.records()
    assert answers[0] == {"prediction": 1234.5, "model_version": "m:2", "variant": "champion"}
    assert answers[1]["prediction"] == 0.1 + 0.2  # repr: the shortest exact float, nothing rounded
    assert json.loads(scored.json(many=False)) == answers[0]
    assert scored.logged() == {"prediction": [1234.5, 0.1 + 0.2]}


def test_the_prediction_log_keeps_the_tasks_answer_columns(contract):
    binary = log_schema(contract)
    assert binary["probability"] == pl.Float64 and binary["prediction"] == pl.String
    columns = dict(contract.columns)
    columns["monthly_charges"] = columns["monthly_charges"].model_copy(update={"role": "target"})
    target = contract.target
    columns[target] = columns[target].model_copy(update={"role": "attribute"})
    regression = contract.model_copy(
        update={"task": "regression", "positive_class": None, "target": "monthly_charges", "columns": columns}
    )
    schema = log_schema(regression)
    assert "probability" not in schema and schema["prediction"] == pl.Float64
    assert list(schema)[:7] == [*list(binary)[:6], "prediction"]
