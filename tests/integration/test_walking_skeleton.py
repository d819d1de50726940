"""Raw drops → bronze → silver → gold → model → Bento → HTTP, on a small generated dataset."""

from __future__ import annotations

import json

import httpx
import joblib
import pandas as pd
import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.contract import example_request
from pipelines.data.features import features_table_name
from pipelines.lake import Lake
from pipelines.ml.register import MODEL_FILE
from tests.conftest import explain

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gold_records(built_workspace, config) -> list[dict]:
    gold = Lake(config.lake_url).table("gold", features_table_name(config.contract))
    return gold.scan().select(config.contract.feature_names).head(50).collect().to_dicts()


@pytest.fixture(scope="module")
def in_process_model(built_workspace, config):
    import bentoml

    return joblib.load(bentoml.models.get(f"{config.model.name}:latest").path_of(MODEL_FILE))


def test_service_is_live_and_ready(scorer_url):
    assert httpx.get(f"{scorer_url}/livez").status_code == 200
    assert httpx.get(f"{scorer_url}/readyz").status_code == 200


def test_prediction_over_http_equals_the_in_process_model(scorer_url, gold_records, in_process_model, config):
    expected = in_process_model.predict_proba(pd.DataFrame(gold_records[:5]))[:, 1]
    for record, probability in zip(gold_records[:5], expected, strict=True):
        answer = httpx.post(f"{scorer_url}/score", json=record).json()
        assert answer["probability"] == pytest.approx(probability, rel=1e-9)
        assert answer["prediction"] in config.contract.columns[config.contract.target].allowed
        assert answer["model_version"].startswith(f"{config.model.name}:")


def test_batch_endpoint_scores_every_record_in_order(scorer_url, gold_records, in_process_model):
    answers = httpx.post(f"{scorer_url}/score_batch", json={"records": gold_records}).json()
    expected = in_process_model.predict_proba(pd.DataFrame(gold_records))[:, 1]
    assert [a["probability"] for a in answers] == pytest.approx(list(expected), rel=1e-9)


def test_batch_with_all_null_optional_column_is_scored(scorer_url, gold_records, config):
    nullable = [c.name for c in config.contract.features if c.nullable]
    records = [{**r, **dict.fromkeys(nullable)} for r in gold_records[:3]]
    assert httpx.post(f"{scorer_url}/score_batch", json={"records": records}).status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tenure_months": "twelve"}, "tenure_months"),
        ({"plan": "platinum"}, "plan"),
        ({"monthly_charges": 10_000}, "monthly_charges"),
        ({"shoe_size": 44}, "shoe_size"),
    ],
)
def test_invalid_request_gets_400_naming_the_field(scorer_url, config, change, field):
    response = httpx.post(f"{scorer_url}/score", json={**example_request(config.contract), **change})
    assert response.status_code == 400
    assert field in response.text


def test_missing_field_gets_400_naming_it(scorer_url, config):
    body = example_request(config.contract)
    body.pop("contract_type")
    response = httpx.post(f"{scorer_url}/score", json=body)
    assert response.status_code == 400 and "contract_type" in response.text


def test_oversized_batch_is_refused(scorer_url, config):
    records = [example_request(config.contract)] * (config.serving.max_batch_rows + 1)
    assert httpx.post(f"{scorer_url}/score_batch", json={"records": records}).status_code == 400


def test_cli_predict_prints_the_service_answer(scorer_url):
    result = CliRunner().invoke(app, ["predict", "--url", scorer_url])
    assert result.exit_code == 0, explain(result)
    assert 0 <= json.loads(result.stdout)["probability"] <= 1


def test_cli_predict_against_nothing_says_what_to_do():
    result = CliRunner().invoke(app, ["predict", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "mlrig serve" in result.output


def test_lineage_records_each_stage_with_counts(built_workspace, config):
    runs = Lake(config.lake_url).table("lineage", "runs").read()
    assert {"ingest", "refine", "features"} <= set(runs["stage"])
    refine_counts = json.loads(runs.filter(runs["stage"] == "refine")["counts"][0])
    assert (
        refine_counts["bronze"] == refine_counts["silver"] + refine_counts["quarantined"] + refine_counts["duplicates"]
    )
    assert set(runs["contract_hash"]) == {config.contract.fingerprint}
