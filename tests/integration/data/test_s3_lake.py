"""The lake on S3: every stage writes Delta tables into a real S3-compatible HTTP server (moto) on 127.0.0.1,
and each table reads back by version. Credentials come from the environment, as in a cluster."""

from __future__ import annotations

import pytest

from pipelines.data.features import build_gold, features_table_name
from pipelines.data.ingest import ingest
from pipelines.data.refine import refine
from tests.conftest import TEST_PII_KEY

pytestmark = pytest.mark.integration  # s3_lake: tests/integration/conftest.py


def test_stages_write_versioned_tables_to_s3_and_read_them_back_by_version(s3_lake, tiny_raw_drop, config):
    contract = config.contract
    first = ingest(config.raw_dir, s3_lake, contract)
    refined = refine(s3_lake, contract, TEST_PII_KEY)
    gold = build_gold(s3_lake, contract)

    bronze = s3_lake.table("bronze", contract.dataset)
    assert bronze.uri.startswith("s3://") and bronze.read(first.bronze_version).height == tiny_raw_drop.rows_written
    assert s3_lake.table("silver", contract.dataset).read(refined.silver_version).height == refined.silver_rows
    features = s3_lake.table("gold", features_table_name(contract))
    assert features.read(gold.features_version).height == refined.silver_rows

    extra = config.raw_dir / "customers_2026-12-09.csv"
    extra.write_text("\n".join(tiny_raw_drop.files[0].read_text(encoding="utf-8").splitlines()[:6]) + "\n")
    second = ingest(config.raw_dir, s3_lake, contract)
    assert second.bronze_version == first.bronze_version + 1
    assert bronze.read().height == tiny_raw_drop.rows_written + 5
    assert bronze.read(first.bronze_version).height == tiny_raw_drop.rows_written  # time travel on S3
