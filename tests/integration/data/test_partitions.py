"""One stage per partition, several at once: what a Kubernetes Indexed Job does. Concurrent `mlrig` processes
writing different `_ingest_date` partitions of the same tables must not lose each other's rows."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from pipelines.data.features import FeaturesError, build_gold, features_table_name
from pipelines.data.ingest import INGEST_DATE, ingest
from pipelines.data.refine import RefineError, refine
from pipelines.demo import generate_raw_drops
from pipelines.lineage import LINEAGE_TABLE
from tests.conftest import TEST_PII_KEY
from tests.integration.data.conftest import mlrig

pytestmark = pytest.mark.integration
DAYS = [dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(3)]


def run_all_at_once(*commands: list[str]) -> None:
    processes = [mlrig(*command) for command in commands]
    for command, process in zip(commands, processes, strict=True):
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"mlrig {' '.join(command)} failed:\n{output}"


@pytest.fixture
def three_partitions(work_dir, lake, config):
    """Bronze with one partition per day, each from its own drop; the planted dirt per partition."""
    dirt = {}
    for number, day in enumerate(DAYS):
        dirt[day.isoformat()] = generate_raw_drops(
            config.contract, config.raw_dir, rows=250, days=1, seed=30 + number, dirt_rate=0.04, start=day
        )
        ingest(config.raw_dir, lake, config.contract, ingested_at=dt.datetime.combine(day, dt.time(6)))
    return dirt


def test_concurrent_partition_writers_keep_every_partitions_rows(three_partitions, lake, config):
    contract = config.contract
    run_all_at_once(*(["refine", "--partition", day] for day in three_partitions))
    for day in three_partitions:  # features writes partitions through the same retrying writer; in-process is faster
        build_gold(lake, contract, partition=day)

    silver = lake.table("silver", contract.dataset).read()
    quarantine = lake.table("quarantine", contract.dataset).read()
    gold = lake.table("gold", features_table_name(contract)).read()
    for day, planted in three_partitions.items():
        expected = planted.rows_written - planted.bad_rows - planted.duplicates
        assert silver.filter(pl.col(INGEST_DATE) == day).height == expected, day
        assert quarantine.filter(pl.col(INGEST_DATE) == day).height == planted.bad_rows, day
        assert gold.filter(pl.col(INGEST_DATE) == day).height == expected, day
    runs = lake.table("lineage", LINEAGE_TABLE).read().filter(pl.col("status") == "succeeded")
    refines = runs.filter(pl.col("stage") == "refine")
    assert refines.height == len(three_partitions)
    # each run names its own silver commit, not whichever writer happened to commit last
    versions = [json.loads(outputs)[f"silver/{contract.dataset}"] for outputs in refines["outputs"]]
    assert len(set(versions)) == len(three_partitions)


def test_rerunning_one_partition_replaces_only_that_partition(three_partitions, lake, config):
    contract = config.contract
    refine(lake, contract, TEST_PII_KEY)
    silver = lake.table("silver", contract.dataset)
    before = silver.read().sort("customer_id", "snapshot_at")
    day = DAYS[1].isoformat()
    again = refine(lake, contract, TEST_PII_KEY, partition=day)
    assert not again.up_to_date and again.bronze_rows == three_partitions[day].rows_written
    assert silver.read().sort("customer_id", "snapshot_at").equals(before)  # replaced with the same rows, no more


def test_unknown_or_malformed_partition_is_refused_with_the_choices(three_partitions, lake, config):
    with pytest.raises(RefineError, match=r"no partition 2030-01-01; it has \['2026-11-01'"):
        refine(lake, config.contract, TEST_PII_KEY, partition="2030-01-01")
    with pytest.raises(RefineError, match="YYYY-MM-DD"):
        refine(lake, config.contract, TEST_PII_KEY, partition="1=1 OR x")
    refine(lake, config.contract, TEST_PII_KEY)
    with pytest.raises(FeaturesError, match="no partition"):
        build_gold(lake, config.contract, partition="2030-01-01")
