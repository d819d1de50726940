from __future__ import annotations

import shutil

import pytest

from pipelines.config import WORK_DIR_ENV, Config
from pipelines.data.features import build_gold
from pipelines.data.ingest import ingest
from pipelines.data.refine import refine
from pipelines.demo import generate_raw_drops
from pipelines.lake import Lake
from pipelines.ml.register import use_bentoml_home
from tests.conftest import TEST_PII_KEY


@pytest.fixture
def gold_lake(work_dir, lake, config):
    """A lake with gold built from 1,500 demo records."""
    generate_raw_drops(config.contract, config.raw_dir, rows=1500, days=2, seed=3)
    ingest(config.raw_dir, lake, config.contract)
    refine(lake, config.contract, TEST_PII_KEY)
    build_gold(lake, config.contract)
    return lake


@pytest.fixture(scope="session")
def gold_once(tmp_path_factory, config):
    """Gold from 1,500 demo records, built once per session; modules get their own copy (see `ml_lake`)."""
    work = tmp_path_factory.mktemp("ml-gold")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(WORK_DIR_ENV, str(work))
        lake = Lake(config.lake_url)
        generate_raw_drops(config.contract, config.raw_dir, rows=1500, days=2, seed=3)
        ingest(config.raw_dir, lake, config.contract)
        refine(lake, config.contract, TEST_PII_KEY)
        build_gold(lake, config.contract)
    return work


@pytest.fixture(scope="module")
def ml_lake(gold_once, tmp_path_factory, config):
    """A copy of the session's gold and an empty model store, shared by one module (training is the slow part).

    Tests that register models must not assume the store is empty: each asks for what it made by tag.
    """
    work = tmp_path_factory.mktemp("ml")
    shutil.copytree(gold_once / config.storage.lake, work / config.storage.lake)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(WORK_DIR_ENV, str(work))
        patch.setenv("MLRIG_PII_KEY", TEST_PII_KEY)
        use_bentoml_home(config.bentoml_home)
        yield Lake(config.lake_url)


def with_gate(config: Config, **rules) -> Config:
    """The project config with some [gate] rules replaced: tests state the rule they exercise."""
    return config.model_copy(update={"gate": config.gate.model_copy(update=rules)})
