"""Bronze sorted by key slot at ingest lets refine read each bucket straight from bronze; bronze without current
slots (ingested by an older mlrig, or under another duplicate key) still refines to exactly the same silver."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.data import refine as refine_module
from pipelines.data.ingest import BRONZE_ROW_GROUP_ROWS, INGEST_DATE, INGESTED_AT, SOURCE_FILE, SOURCE_LINE, ingest
from pipelines.data.keys import KEY_SLOT, SLOTS, bucket_of, key_slot, slot_range
from pipelines.data.refine import refine
from pipelines.demo import generate_raw_drops
from tests.conftest import TEST_PII_KEY

MANY_BUCKETS_ROWS = 64  # ~10 buckets of the 600-record drops


def _silver(lake, contract) -> pl.DataFrame:
    """Silver in the order records were received (drops of different days may share file names)."""
    return lake.table("silver", contract.dataset).read().drop("_shard").sort(INGESTED_AT, SOURCE_FILE, SOURCE_LINE)


def _refined_in_one_and_in_many_buckets(lake, contract, monkeypatch) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Silver from one bucket, then from many (a new shard count makes it a new run); the second run's progress."""
    refine(lake, contract, TEST_PII_KEY)
    one = _silver(lake, contract)
    monkeypatch.setattr(refine_module, "BUCKET_ROWS", MANY_BUCKETS_ROWS)
    said: list[str] = []
    refine(lake, contract, TEST_PII_KEY, shards=2, progress=said.append)
    many = _silver(lake, contract)
    return one, many, said


def test_slot_ranges_are_exactly_the_slots_bucket_of_assigns():
    slots = pl.Series("s", range(SLOTS), dtype=pl.Int32)
    for buckets in (1, 2, 3, 7, 20, 1000):
        assigned = pl.select(bucket_of(pl.lit(slots), buckets).alias("b")).to_series()
        for bucket in (0, buckets // 2, buckets - 1):
            low, high = slot_range(bucket, buckets)
            assert slots.filter(assigned == bucket).to_list() == list(range(low, high))


def test_ingest_stores_each_drop_sorted_by_its_current_key_slot_in_small_row_groups(tiny_raw_drop, lake, config):
    ingest(config.raw_dir, lake, config.contract)
    bronze = lake.table("bronze", config.contract.dataset)
    rows = bronze.read()
    assert rows[KEY_SLOT].equals(rows.select(key_slot(config.contract))[KEY_SLOT])
    for path, _ in bronze.files():
        footer = pq.ParquetFile(path)
        slots = footer.read(columns=[KEY_SLOT])[KEY_SLOT].to_pylist()
        assert slots == sorted(slots), path  # so a row group holds a narrow slot range
        assert max(footer.metadata.row_group(g).num_rows for g in range(footer.num_row_groups)) <= BRONZE_ROW_GROUP_ROWS


def test_current_slots_split_bronze_into_buckets_without_spilling_it(tiny_raw_drop, lake, config, monkeypatch):
    ingest(config.raw_dir, lake, config.contract)

    def no_spill(*args, **kwargs):
        raise AssertionError("bronze with current key slots was spilled")

    monkeypatch.setattr(refine_module, "_spill", no_spill)
    one, many, _ = _refined_in_one_and_in_many_buckets(lake, config.contract, monkeypatch)
    assert many.equals(one) and one.height > 0


def test_bronze_from_before_key_slots_refines_to_the_same_silver(work_dir, lake, config, monkeypatch):
    """An older mlrig's bronze (no `_key_slot`), then a drop ingested now: the older rows go through the spill."""
    contract = config.contract
    generate_raw_drops(contract, config.raw_dir, rows=600, days=2, seed=11, dirt_rate=0.05)
    ingest(config.raw_dir, lake, contract, ingested_at=dt.datetime(2026, 11, 1))
    bronze = lake.table("bronze", contract.dataset)
    bronze.write(bronze.read().drop(KEY_SLOT), mode="overwrite", partition_by=[INGEST_DATE])
    later = work_dir / "later"
    generate_raw_drops(contract, later, rows=300, days=1, seed=12, dirt_rate=0.05)
    ingest(later, lake, contract, ingested_at=dt.datetime(2026, 11, 2))
    assert 0 < bronze.read()[KEY_SLOT].null_count() < bronze.read().height

    one, many, said = _refined_in_one_and_in_many_buckets(lake, contract, monkeypatch)
    assert many.equals(one)
    assert any("without key slots" in line for line in said), said


@pytest.mark.parametrize(
    ("key", "trusted"),
    [
        (("customer_id",), True),  # the slot hashes the key's text columns: the same as before, still valid
        ((), False),  # every column: another hash, so every stored slot is stale
    ],
)
def test_slots_stored_under_another_duplicate_key_are_trusted_only_if_still_right(
    tiny_raw_drop, lake, config, monkeypatch, key, trusted
):
    """The contract's duplicate key changed after ingest: slots it would place elsewhere are never used."""
    ingest(config.raw_dir, lake, config.contract)
    changed = config.contract.model_copy(update={"duplicate_key": key})
    one, many, said = _refined_in_one_and_in_many_buckets(lake, changed, monkeypatch)
    assert many.equals(one) and one.height > 0
    assert any("another duplicate key" in line for line in said) is not trusted, said
