"""The champion pointer and the promoted model on an s3:// lake (a real S3-compatible server, moto), as in a cluster:
one store promotes, a pod with an empty store imports the champion from S3."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pipelines.config import LAKE_URL_ENV, WORK_DIR_ENV
from pipelines.lake import Lake
from pipelines.ml import registry
from pipelines.ml.register import use_bentoml_home
from tests.conftest import tiny_stored_model

pytestmark = pytest.mark.integration


@pytest.fixture
def s3_config(s3_lake: Lake, config, monkeypatch: pytest.MonkeyPatch):
    """The project config with its lake on S3 ($MLRIG_LAKE_URL, as infra/platform sets it) and a fresh store."""
    monkeypatch.setenv(LAKE_URL_ENV, s3_lake.url)
    use_bentoml_home(config.bentoml_home)
    return config


def test_promotion_puts_pointer_and_model_on_s3_and_a_pod_imports_the_champion(
    s3_config, s3_endpoint, tmp_path: Path, monkeypatch
):
    import bentoml

    config = s3_config
    tag = tiny_stored_model(config, "promoted to s3")
    exported = registry.promote(config, tag, {"passed": True})

    # Read back straight from the server, not through the code under test.
    assert registry.pointer_url(config).startswith("s3://") and exported.startswith("s3://")
    pointer = httpx.get(f"{s3_endpoint}/{registry.pointer_url(config).removeprefix('s3://')}")
    assert pointer.json()[config.model.name]["tag"] == tag
    assert httpx.head(f"{s3_endpoint}/{exported.removeprefix('s3://')}").status_code == 200

    monkeypatch.setenv(WORK_DIR_ENV, str(tmp_path / "pod"))  # an empty store, the same S3 lake
    use_bentoml_home(config.bentoml_home)
    assert registry.fetch_serving(config) == tag
    assert bentoml.models.get(tag).info.metadata["label"] == "promoted to s3"


def test_a_corrupt_pointer_on_s3_says_what_to_do(s3_config, s3_endpoint):
    key = registry.pointer_url(s3_config).removeprefix("s3://")
    httpx.put(f"{s3_endpoint}/{key}", content=b'{"churn-classifier": ').raise_for_status()
    with pytest.raises(registry.ChampionError, match="mlrig gate --tag"):
        registry.champion_tag(s3_config)
