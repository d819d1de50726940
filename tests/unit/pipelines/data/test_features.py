from __future__ import annotations

import pytest

from pipelines.data.features import LABEL, FeaturesError, build_gold, features_table_name
from pipelines.data.ingest import INGEST_DATE, ingest
from pipelines.data.refine import SHARD, refine
from tests.conftest import TEST_PII_KEY


@pytest.fixture
def silver(tiny_raw_drop, lake, config):
    ingest(config.raw_dir, lake, config.contract)
    return refine(lake, config.contract, TEST_PII_KEY)


def test_gold_features_are_the_contract_features_and_a_binary_label(silver, lake, config):
    result = build_gold(lake, config.contract)
    gold = lake.table("gold", features_table_name(config.contract)).read()
    assert gold.height == result.rows == silver.silver_rows
    assert gold.columns == [
        config.contract.entity_key,
        config.contract.event_time,
        *config.contract.feature_names,
        LABEL,
        INGEST_DATE,
        SHARD,  # the partition column, so one pod of an Indexed Job replaces only its shard
    ]
    assert set(gold[LABEL].unique()) == {0, 1}


def test_segments_follow_the_business_settings_and_add_up_to_silver(silver, lake, config):
    build_gold(lake, config.contract, business=config.business)
    segments = lake.table("gold", f"{config.contract.dataset}_by_segment").read()
    assert segments.columns[: len(config.business.segment_by)] == list(config.business.segment_by)
    assert segments["records"].sum() == silver.silver_rows
    assert segments["positive_rate"].is_between(0, 1).all()
    value = config.business.value_column
    assert (segments[f"{value}_positive"] <= segments[f"{value}_total"]).all()


def test_without_segments_the_aggregate_is_one_overall_row(silver, lake, config):
    build_gold(lake, config.contract)
    segments = lake.table("gold", f"{config.contract.dataset}_by_segment").read()
    assert segments.height == 1
    assert segments["records"].item() == silver.silver_rows


def test_gold_rebuild_on_same_silver_is_a_no_op(silver, lake, config):
    first = build_gold(lake, config.contract)
    again = build_gold(lake, config.contract)
    assert again.up_to_date and again.features_version == first.features_version


def test_gold_before_refine_says_what_to_run(work_dir, lake, config):
    with pytest.raises(FeaturesError, match="mlrig refine"):
        build_gold(lake, config.contract)
