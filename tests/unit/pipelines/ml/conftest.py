from __future__ import annotations

import pytest

from pipelines.data.features import build_gold
from pipelines.data.ingest import ingest
from pipelines.data.refine import refine
from pipelines.demo import generate_raw_drops
from tests.conftest import TEST_PII_KEY


@pytest.fixture
def gold_lake(work_dir, lake, config):
    """A lake with gold built from 1,500 demo records."""
    generate_raw_drops(config.contract, config.raw_dir, rows=1500, days=2, seed=3)
    ingest(config.raw_dir, lake, config.contract)
    refine(lake, config.contract, TEST_PII_KEY)
    build_gold(lake, config.contract)
    return lake
