from __future__ import annotations

import pytest

from pipelines.data.ingest import SOURCE_SHA, IngestError, ingest


def test_ingest_appends_every_row_as_text_with_load_metadata(tiny_raw_drop, lake, config):
    result = ingest(config.raw_dir, lake, config.contract)
    bronze = lake.table("bronze", config.contract.dataset).read()
    assert result.rows == bronze.height == tiny_raw_drop.rows_written
    assert result.files_ingested == len(tiny_raw_drop.files)
    assert bronze.schema["tenure_months"].is_(__import__("polars").String)  # as received, not parsed
    assert bronze[SOURCE_SHA].n_unique() == len(tiny_raw_drop.files)


def test_reingesting_the_same_files_adds_nothing(tiny_raw_drop, lake, config):
    first = ingest(config.raw_dir, lake, config.contract)
    again = ingest(config.raw_dir, lake, config.contract)
    assert again.rows == 0 and again.files_skipped == len(tiny_raw_drop.files)
    assert again.bronze_version == first.bronze_version
    assert lake.table("bronze", config.contract.dataset).read().height == tiny_raw_drop.rows_written


def test_empty_file_is_refused_by_name_and_lake_untouched(tiny_raw_drop, lake, config):
    ingest(config.raw_dir, lake, config.contract)
    before = lake.table("bronze", config.contract.dataset).version()
    (config.raw_dir / "customers_2026-12-01.csv").write_text("")
    with pytest.raises(IngestError, match=r"customers_2026-12-01\.csv.*empty"):
        ingest(config.raw_dir, lake, config.contract)
    assert lake.table("bronze", config.contract.dataset).version() == before


def test_missing_column_is_named(tiny_raw_drop, lake, config):
    bad = config.raw_dir / "customers_2026-12-02.csv"
    bad.write_text("customer_id,email\nC1,a@b.c\n")
    with pytest.raises(IngestError, match=r"missing column.*tenure_months"):
        ingest(config.raw_dir, lake, config.contract)
    assert not lake.table("bronze", config.contract.dataset).exists()


def test_no_drops_says_where_it_looked(work_dir, lake, config):
    config.raw_dir.mkdir(parents=True)
    with pytest.raises(IngestError, match="mlrig generate"):
        ingest(config.raw_dir, lake, config.contract)
