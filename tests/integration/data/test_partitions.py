"""Shards, several at once: what a Kubernetes Indexed Job does. Concurrent `mlrig` processes writing different
`_shard` partitions of the same Delta tables (real files, real commits racing) must lose nobody's rows, and
together must equal one refine of everything, duplicates across drops included."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from pipelines.data.features import build_gold, features_table_name
from pipelines.data.ingest import SOURCE_FILE, SOURCE_LINE, ingest
from pipelines.data.refine import SHARD, RefineError, Shard, refine
from pipelines.demo import generate_raw_drops
from pipelines.lineage import LINEAGE_TABLE
from tests.conftest import TEST_PII_KEY
from tests.integration.data.conftest import mlrig

pytestmark = pytest.mark.integration
DAYS = [dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(3)]
SHARDS = 3


def run_all_at_once(*commands: list[str]) -> None:
    processes = [mlrig(*command) for command in commands]
    for command, process in zip(commands, processes, strict=True):
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"mlrig {' '.join(command)} failed:\n{output}"


@pytest.fixture
def three_drops(work_dir, lake, config):
    """Bronze from three daily drops with planted dirt, the last one re-sending part of the first (duplicates
    across drops, which every shard must still remove)."""
    for number, day in enumerate(DAYS[:2]):
        generate_raw_drops(
            config.contract, config.raw_dir, rows=250, days=1, seed=30 + number, dirt_rate=0.02, start=day
        )
        ingest(config.raw_dir, lake, config.contract, ingested_at=dt.datetime.combine(day, dt.time(6)))
    first = sorted(config.raw_dir.glob("*.csv"))[0]
    lines = first.read_text(encoding="utf-8").splitlines(keepends=True)
    (config.raw_dir / "resent.csv").write_text("".join(lines[:81]), encoding="utf-8")  # header + 80 records
    ingest(config.raw_dir, lake, config.contract, ingested_at=dt.datetime.combine(DAYS[2], dt.time(6)))


def rows_of(table) -> pl.DataFrame:
    return table.read().drop(SHARD).sort(SOURCE_FILE, SOURCE_LINE)


def test_concurrent_shard_writers_equal_one_refine_of_everything(three_drops, lake, config):
    contract = config.contract
    whole = refine(lake, contract, TEST_PII_KEY)
    assert whole.duplicates >= 80  # the re-sent records, removed across drops
    expected = {layer: rows_of(lake.table(layer, contract.dataset)) for layer in ("silver", "quarantine")}

    run_all_at_once(*(["refine", "--shards", str(SHARDS), "--shard", str(i)] for i in range(SHARDS)))
    for layer, rows in expected.items():
        table = lake.table(layer, contract.dataset)
        assert set(table.read()[SHARD]) <= {Shard(i, SHARDS).label for i in range(SHARDS)}, layer
        assert (
            rows_of(table)
            .drop("_quarantine_run_id", strict=False)
            .equals(rows.drop("_quarantine_run_id", strict=False))
        ), layer

    assert set(lake.table("silver", contract.dataset).read()[SHARD]) == {Shard(i, SHARDS).label for i in range(SHARDS)}
    runs = lake.table("lineage", LINEAGE_TABLE).read().filter(pl.col("status") == "succeeded")
    refines = runs.filter(pl.col("stage") == "refine").sort("finished_at").tail(SHARDS)
    counts = [json.loads(c) for c in refines["counts"]]
    assert sum(c["bronze"] for c in counts) == whole.bronze_rows
    assert sum(c["duplicates"] for c in counts) == whole.duplicates
    # each run names its own silver commit, not whichever writer happened to commit last
    versions = [json.loads(outputs)[f"silver/{contract.dataset}"] for outputs in refines["outputs"]]
    assert len(set(versions)) == SHARDS

    run_all_at_once(*(["features", "--shards", str(SHARDS), "--shard", str(i), "--if-ready"] for i in range(SHARDS)))
    gold = lake.table("gold", features_table_name(contract)).read()
    assert gold.height == whole.silver_rows
    assert gold.select(pl.struct(contract.duplicate_key).is_duplicated().any()).item() is False


def test_rerunning_one_shard_replaces_only_that_shard(three_drops, lake, config):
    contract = config.contract
    refine(lake, contract, TEST_PII_KEY, shards=SHARDS)
    silver = lake.table("silver", contract.dataset)
    before = rows_of(silver)
    again = refine(lake, contract, TEST_PII_KEY, shard=Shard(1, SHARDS))
    assert not again.up_to_date and 0 < again.bronze_rows < before.height
    assert rows_of(silver).equals(before)  # replaced with the same rows, no more


def test_a_new_shard_count_replaces_the_old_labels_without_doubling(three_drops, lake, config):
    contract = config.contract
    refine(lake, contract, TEST_PII_KEY)  # one shard: every row labelled 0-of-1
    before = rows_of(lake.table("silver", contract.dataset))
    for index in range(2):
        refine(lake, contract, TEST_PII_KEY, shard=Shard(index, 2))
    silver = lake.table("silver", contract.dataset)
    assert set(silver.read()[SHARD]) == {"0-of-2", "1-of-2"}
    assert rows_of(silver).equals(before)


def test_features_wait_for_refine_of_bronzes_latest_drop(three_drops, lake, config):
    contract = config.contract
    refine(lake, contract, TEST_PII_KEY, shards=SHARDS)
    generate_raw_drops(contract, config.raw_dir, rows=100, days=1, seed=77, start=dt.date(2026, 11, 9))
    ingest(config.raw_dir, lake, contract)  # a late drop: silver is now older than bronze
    waiting = build_gold(lake, contract, Shard(0, SHARDS), if_ready=True)
    assert waiting.waiting and "not yet refined" in waiting.waiting
    assert not lake.table("gold", features_table_name(contract)).exists()
    refine(lake, contract, TEST_PII_KEY, shard=Shard(0, SHARDS))
    built = build_gold(lake, contract, Shard(0, SHARDS), if_ready=True)
    assert built.waiting is None and built.rows > 0
    assert build_gold(lake, contract, Shard(1, SHARDS), if_ready=True).waiting  # its shard is still stale


def test_a_shard_that_does_not_exist_is_refused(three_drops, lake, config):
    with pytest.raises(RefineError, match="does not exist"):
        refine(lake, config.contract, TEST_PII_KEY, shard=Shard(3, 3))
