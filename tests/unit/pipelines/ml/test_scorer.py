"""The serving scorer: compiled from the trained Pipeline, it must give the Pipeline's probabilities, and the
gate must refuse a model whose stored scorer does not."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pipelines.ml import registry
from pipelines.ml.gate import run_gate
from pipelines.ml.register import load_model, register
from pipelines.ml.scorer import (
    MAX_SCORER_GAP,
    SCORER_FILE,
    ScorerError,
    SingleRowPredictor,
    agreement,
    compile_pipeline,
    load_scorer,
)
from pipelines.ml.train import load_split, train
from tests.unit.pipelines.ml.conftest import with_gate
from tests.unit.pipelines.ml.test_gate import FAST, LENIENT


@pytest.fixture(scope="module")
def trained(ml_lake, config):
    return train(ml_lake, config)


@pytest.fixture(scope="module")
def scorer(trained):
    return compile_pipeline(trained.model)


def test_scorer_gives_the_pipelines_probabilities_on_held_out_rows(trained, scorer):
    checked = agreement(scorer, trained.model, trained.test_features)
    assert checked["rows"] == len(trained.test_features) > 100
    assert checked["max_abs_diff"] <= MAX_SCORER_GAP


def test_unknown_categories_and_nulls_are_scored_as_the_pipeline_scores_them(trained, scorer, config):
    import pandas as pd

    rows = trained.test_features.head(20).copy()
    category = next(c.name for c in config.contract.features if c.dtype == "category")
    nullable = [c.name for c in config.contract.features if c.nullable]
    rows.loc[rows.index[:5], category] = "a value the contract never allowed"
    rows.loc[rows.index[5:10], nullable] = np.nan
    rows.loc[rows.index[10:15], category] = None
    expected = trained.model.predict_proba(rows)[:, 1]
    records = rows.astype(object).where(pd.notna(rows), None).to_dict("records")
    assert np.max(np.abs(scorer.score_records(records) - expected)) <= MAX_SCORER_GAP
    assert [float(scorer.score_records([r])[0]) for r in records] == pytest.approx(list(expected), abs=1e-12)


def test_one_row_fast_path_equals_the_boosters_own_predict(scorer, trained):
    records = trained.test_features.head(50).to_dict("records")
    matrix = scorer.encode({f.name: [r[f.name] for r in records] for f in scorer.features}, len(records))
    fast = SingleRowPredictor(scorer.booster, matrix.shape[1])
    expected = scorer.booster.predict(matrix, raw_score=True, num_threads=1)
    assert [fast(list(row)) for row in matrix] == list(expected)
    assert [fast(scorer.encode_row(r)) for r in records] == list(expected)


def test_saved_scorer_loads_and_scores_identically(scorer, trained, tmp_path):
    scorer.save(tmp_path)
    loaded = load_scorer(tmp_path)
    records = trained.test_features.to_dict("records")
    assert list(loaded.score_records(records)) == list(scorer.score_records(records))
    assert json.loads((tmp_path / SCORER_FILE).read_text())["link"] == "sigmoid"


def test_a_model_without_a_scorer_says_to_register_again(tmp_path):
    with pytest.raises(ScorerError, match="Register it again"):
        load_scorer(tmp_path)


def test_a_pipeline_with_other_steps_is_refused_by_name(trained):
    from sklearn.pipeline import Pipeline

    with pytest.raises(ScorerError, match="steps"):
        compile_pipeline(Pipeline([("classify", trained.model.named_steps["classify"])]))


def test_registration_stores_the_scorer_and_its_check(trained, config):
    import bentoml

    tag = register(trained, config)
    stored = bentoml.models.get(tag)
    check = stored.info.metadata["serving_scorer"]
    assert check["rows"] == trained.test_rows and check["max_abs_diff"] <= MAX_SCORER_GAP
    assert load_scorer(Path(stored.path)).features == compile_pipeline(trained.model).features


def test_gate_refuses_a_model_whose_scorer_strays_from_its_pipeline(ml_lake, config, trained):
    import bentoml

    tag = register(trained, config)
    spec_path = Path(bentoml.models.get(tag).path) / SCORER_FILE
    spec = json.loads(spec_path.read_text())
    category = next(f for f in spec["features"] if f["codes"])
    values = list(category["codes"])
    category["codes"] = dict(zip(values, reversed(list(category["codes"].values())), strict=True))  # codes swapped
    spec_path.write_text(json.dumps(spec))
    champion_before = registry.champion_tag(config)
    verdict = run_gate(ml_lake, with_gate(config, **LENIENT, **FAST), tag)
    rule = next(r for r in verdict.rules if r.name.startswith("serving scorer"))
    assert not rule.passed and rule.value > MAX_SCORER_GAP
    assert not verdict.passed
    assert registry.champion_tag(config) == champion_before


def test_gate_passes_the_scorer_rule_for_a_faithful_scorer(ml_lake, config, trained):
    tag = register(trained, config)
    split = load_split(ml_lake, config)
    _, pipeline, _ = load_model(tag)
    checked = agreement(compile_pipeline(pipeline), pipeline, split.features(config, "test"))
    assert checked["max_abs_diff"] <= MAX_SCORER_GAP
    verdict = run_gate(ml_lake, with_gate(config, **LENIENT, **FAST), tag)
    assert next(r for r in verdict.rules if r.name.startswith("serving scorer")).passed


def test_no_held_out_rows_prove_nothing(scorer, trained):
    assert math.isinf(agreement(scorer, trained.model, trained.test_features.head(0))["max_abs_diff"])
