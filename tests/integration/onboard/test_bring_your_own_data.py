"""`mlrig init` on data that is not the demo, then the whole kit with no code change: through to HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import polars as pl
import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.config import CONFIG_ENV, WORK_DIR_ENV, load_config
from pipelines.data.features import features_table_name
from pipelines.lake import Lake
from pipelines.ml.registry import MODEL_TAG_ENV
from service.runner import DEMO_ENV, serving
from tests.conftest import TEST_PII_KEY, explain
from tests.integration.conftest import free_port
from tests.onboard_datasets import write_loans_csv, write_transactions_parquet

pytestmark = pytest.mark.integration

CASES = {
    "loans, semicolon CSV in cp1252, 0/1 target": (write_loans_csv, "defaulted", {"applicant", "account_iban"}),
    "transactions, Parquet, true/false target": (write_transactions_parquet, "is_fraud", {"card", "client_ip"}),
}


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, f"mlrig {' '.join(args)}:\n{explain(result)}"
    return result.output


@pytest.mark.parametrize("case", list(CASES))
def test_init_then_every_stage_then_a_served_prediction(case, tmp_path, monkeypatch):
    write: Callable[[Path], Path] = CASES[case][0]
    target, pii_columns = CASES[case][1], CASES[case][2]
    config_path = tmp_path / "their.toml"
    monkeypatch.setenv(CONFIG_ENV, str(config_path))
    monkeypatch.setenv(WORK_DIR_ENV, str(tmp_path / "work"))
    monkeypatch.setenv("MLRIG_PII_KEY", TEST_PII_KEY)
    sample = write(tmp_path / "exports")

    _run("init", "--from", str(sample.parent), "--target", target, "--config", str(config_path))
    config = load_config()
    # the served model is the one just trained, named: `mlrig build` packages an ungated model only when named
    # (the gate on these small synthetic exports is tests/integration/onboard/test_public_datasets.py's subject)
    monkeypatch.setenv(MODEL_TAG_ENV, f"{config.model.name}:latest")
    config.raw_dir.mkdir(parents=True)
    shutil.copy(sample, config.raw_dir)
    for stage in ("ingest", "refine", "features", "train", "build"):
        _run(stage)

    silver = Lake(config.lake_url).table("silver", config.contract.dataset).read()
    assert not pii_columns & set(silver.columns)
    planted = (
        pl.read_parquet(sample)
        if sample.suffix == ".parquet"
        else pl.read_csv(sample, separator=";", encoding="cp1252")
    )
    planted_values = {str(v) for c in pii_columns for v in planted[c].drop_nulls()}
    assert not planted_values & {str(v) for c in silver.columns for v in silver[c].drop_nulls()}

    record = (
        Lake(config.lake_url)
        .table("gold", features_table_name(config.contract))
        .scan()
        .select(config.contract.feature_names)
        .head(1)
        .collect()
        .row(0, named=True)
    )
    port = free_port()
    with serving(config, port, tmp_path / "serve.log", env=DEMO_ENV) as url:
        answer = httpx.post(f"{url}/score", json=record, timeout=30)
    assert answer.status_code == 200, answer.text
    assert 0 <= answer.json()["probability"] <= 1
    assert answer.json()["prediction"] in config.contract.columns[target].allowed
    assert answer.json()["model_version"].startswith(f"{config.model.name}:")
