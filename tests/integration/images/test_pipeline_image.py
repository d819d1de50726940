"""The pipeline image runs a real stage on a mounted work folder, as a Kubernetes Job would."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.config import WORK_DIR_ENV, Config
from pipelines.demo import generate_raw_drops
from pipelines.lake import Lake
from tests.conftest import TEST_PII_KEY, explain
from tests.integration.images.conftest import TEST_TAG

pytestmark = pytest.mark.integration


def test_the_pipeline_image_ingests_raw_drops_into_a_mounted_lake(
    pipeline_image: str, tmp_path: Path, config: Config, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(WORK_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("MLRIG_PII_KEY", TEST_PII_KEY)
    report = generate_raw_drops(config.contract, config.raw_dir, rows=300, days=1, seed=3)
    tmp_path.chmod(0o777)  # the container's non-root user writes the lake into this folder

    result = CliRunner().invoke(app, ["image", "run", "pipeline", "--tag", TEST_TAG, "--", "ingest"])

    assert result.exit_code == 0, explain(result)
    assert f"ingest: {report.rows_written} rows from 1 new file(s)" in result.output
    bronze = Lake(config.lake_url).table("bronze", config.contract.dataset).scan().collect()
    assert bronze.height == report.rows_written  # written by the container, read here


def test_a_failing_stage_is_reported_with_its_output(pipeline_image: str, tmp_path: Path, monkeypatch):
    monkeypatch.setenv(WORK_DIR_ENV, str(tmp_path))
    tmp_path.chmod(0o777)
    result = CliRunner().invoke(app, ["image", "run", "pipeline", "--tag", TEST_TAG, "--", "features"])
    assert result.exit_code == 1
    assert "`mlrig features` in" in result.output
    assert "exited with code 1" in result.output
