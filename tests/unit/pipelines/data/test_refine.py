from __future__ import annotations

import polars as pl
import pytest

from pipelines.data.ingest import SOURCE_FILE, ingest
from pipelines.data.refine import RULE, RefineError, refine
from tests.conftest import TEST_PII_KEY


@pytest.fixture
def bronze(tiny_raw_drop, lake, config):
    ingest(config.raw_dir, lake, config.contract)
    return tiny_raw_drop


def test_every_bronze_row_is_accounted_for(bronze, lake, config):
    result = refine(lake, config.contract, TEST_PII_KEY)
    assert result.bronze_rows == bronze.rows_written
    assert result.bronze_rows == result.silver_rows + result.quarantined + result.duplicates
    assert result.quarantined == bronze.bad_rows
    assert result.duplicates == bronze.duplicates


def test_quarantine_names_the_rule_each_row_broke(bronze, lake, config):
    refine(lake, config.contract, TEST_PII_KEY)
    rules = lake.table("quarantine", config.contract.dataset).read()[RULE]
    assert rules.str.contains("tenure_months: less_than_or_equal_to(600", literal=True).sum() == bronze.out_of_range
    assert rules.str.contains("plan: isin(", literal=True).sum() == bronze.unknown_category
    assert rules.str.contains("monthly_charges: not a valid float").sum() == bronze.unparseable
    assert (rules != "").all()


def test_silver_is_typed_valid_and_unique(bronze, lake, config):
    refine(lake, config.contract, TEST_PII_KEY)
    silver = lake.table("silver", config.contract.dataset).read()
    assert silver.schema["tenure_months"] == pl.Int64
    assert silver.schema["snapshot_at"] == pl.Datetime("us")
    assert silver["tenure_months"].max() <= 600
    assert silver.select(pl.struct(config.contract.duplicate_key).is_duplicated().any()).item() is False


def test_no_planted_pii_reaches_silver_or_quarantine(bronze, lake, config):
    raw = pl.read_csv(bronze.files, infer_schema=False, truncate_ragged_lines=True)
    planted = {v for c in ("full_name", "email", "phone", "customer_id") for v in raw[c].drop_nulls()}
    refine(lake, config.contract, TEST_PII_KEY)
    for layer in ("silver", "quarantine"):
        table = lake.table(layer, config.contract.dataset).read()
        assert not {"full_name", "email", "phone"} & set(table.columns)
        cells = {str(v) for col in table.columns for v in table[col].drop_nulls()}
        assert not planted & cells, f"PII found in {layer}"


def test_pseudonyms_are_keyed_and_stable(bronze, lake, config):
    refine(lake, config.contract, TEST_PII_KEY)
    ids = lake.table("silver", config.contract.dataset).read()["customer_id"]
    assert ids.str.len_chars().unique().to_list() == [64]  # HMAC-SHA256, hex
    other = pl.DataFrame({"customer_id": ["C100001"]})
    from pipelines.pii import treat_pii

    one = treat_pii(other, config.contract, TEST_PII_KEY)["customer_id"][0]
    assert one == treat_pii(other, config.contract, TEST_PII_KEY)["customer_id"][0]
    assert one != treat_pii(other, config.contract, TEST_PII_KEY + "x")["customer_id"][0]


def test_rerun_on_the_same_bronze_writes_nothing(bronze, lake, config):
    first = refine(lake, config.contract, TEST_PII_KEY)
    again = refine(lake, config.contract, TEST_PII_KEY)
    assert again.up_to_date and again.silver_version == first.silver_version


def test_refine_before_ingest_says_what_to_run(work_dir, lake, config):
    with pytest.raises(RefineError, match="mlrig ingest"):
        refine(lake, config.contract, TEST_PII_KEY)


def test_a_single_value_is_pseudonymised_exactly_as_in_silver(config):
    from pipelines.pii import pseudonymize_value, treat_pii

    frame = pl.DataFrame({"customer_id": ["C100001", "C999999"]})
    in_table = treat_pii(frame, config.contract, TEST_PII_KEY)["customer_id"].to_list()
    assert in_table == [pseudonymize_value(v, TEST_PII_KEY) for v in frame["customer_id"]]


def test_a_column_of_the_wrong_type_is_quarantined_and_named_per_file(tiny_raw_drop, lake, config):
    source = tiny_raw_drop.files[0]
    frame = pl.read_csv(source, infer_schema=False, truncate_ragged_lines=True)
    shifted = config.raw_dir / "customers_2026-12-07.csv"
    frame.with_columns(pl.lit("twelve").alias("tenure_months")).write_csv(shifted)
    source.unlink()
    ingest(config.raw_dir, lake, config.contract)
    result = refine(lake, config.contract, TEST_PII_KEY)
    from_file = pl.col(SOURCE_FILE) == shifted.name
    assert lake.table("silver", config.contract.dataset).read().filter(from_file).height == 0
    assert lake.table("quarantine", config.contract.dataset).read().filter(from_file).height == frame.height
    assert any(
        w.startswith(f"{shifted.name}: ") and "`tenure_months: not a valid int`" in w and "contract" in w
        for w in result.warnings
    )


@pytest.mark.parametrize("bucket_rows", [250_000, 100])  # one bucket, and several spilled ones streamed
def test_too_many_quarantined_rows_stop_the_run_before_any_commit(bronze, lake, config, monkeypatch, bucket_rows):
    """The rate is known only after the last bucket, while silver is already streaming into its commit: the
    refusal must abort that commit, and reach the caller as itself."""
    from pipelines.data import refine as refine_module

    monkeypatch.setattr(refine_module, "BUCKET_ROWS", bucket_rows)
    with pytest.raises(RefineError, match=r"max_quarantine_share.*Nothing was written"):
        refine(lake, config.contract, TEST_PII_KEY, max_quarantine_share=0.01)
    for layer in ("silver", "quarantine"):
        assert lake.table(layer, config.contract.dataset).version() is None, layer
    result = refine(lake, config.contract, TEST_PII_KEY)  # and the next run is not confused by the aborted one
    assert result.bronze_rows == result.silver_rows + result.quarantined + result.duplicates


def test_many_buckets_give_the_same_silver_as_one(bronze, lake, config, monkeypatch):
    """Splitting by the key hash keeps every copy of a record in one bucket: the same rows survive."""
    from pipelines.data import refine as refine_module

    one = refine(lake, config.contract, TEST_PII_KEY)
    silver = lake.table("silver", config.contract.dataset)
    expected = silver.read().sort(SOURCE_FILE, "_source_line")
    monkeypatch.setattr(refine_module, "BUCKET_ROWS", 50)
    many = refine(lake, config.contract, TEST_PII_KEY, shards=2)  # a new shard count: a new run
    assert (many.silver_rows, many.duplicates, many.quarantined) == (one.silver_rows, one.duplicates, one.quarantined)
    got = silver.read().sort(SOURCE_FILE, "_source_line")
    assert got.drop("_shard").equals(expected.drop("_shard"))
    assert set(got["_shard"]) == {"0-of-2", "1-of-2"}
