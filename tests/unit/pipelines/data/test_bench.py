from __future__ import annotations

import polars as pl
import pytest

from pipelines.data import bench
from pipelines.data.features import LABEL, build_gold, features_table_name
from pipelines.data.refine import refine


@pytest.fixture
def bench_lake(work_dir, lake, config, monkeypatch):
    """Bench drops small enough for a unit test: planted dirt and duplicates within drops, re-sent records
    across them, several drops on several days."""
    monkeypatch.setattr(bench, "TILE_ROWS", 1_500)
    monkeypatch.setattr(bench, "DROP_ROWS", 3_000)
    drops = bench.make_drops(work_dir / "raw", 7_000, config.contract)
    assert len(drops) >= 3
    bronze = bench.ingest_drops(drops, lake, config.contract)
    assert bronze > 7_000  # planted duplicates and re-sent records on top
    return lake


@pytest.mark.parametrize("bucket_rows", [250_000, 1_000])  # one bucket, and many spilled ones
def test_bench_baseline_yields_the_pipelines_gold_row_for_row(bench_lake, config, monkeypatch, bucket_rows):
    """The hand-written baseline is only a fair comparison if it makes the same gold rows, not just as many."""
    from pipelines.data import refine as refine_module

    monkeypatch.setattr(refine_module, "BUCKET_ROWS", bucket_rows)
    contract = config.contract
    refined = refine(bench_lake, contract, bench.BENCH_KEY)
    assert refined.quarantined > 0 and refined.duplicates > 0  # the sample has dirt and duplicates
    build_gold(bench_lake, contract)
    columns = [contract.entity_key, contract.event_time, *contract.feature_names, LABEL]
    pipeline = bench_lake.table("gold", features_table_name(contract)).read().select(columns).sort(columns)
    baseline = bench.baseline_gold(bench_lake.url, bench.BENCH_KEY, contract).collect().select(columns).sort(columns)
    assert pipeline.height == refined.silver_rows
    assert pipeline.equals(baseline)
    # and the duplicates it removed kept the first copy received: the re-sent records are in the first drop
    assert pipeline.select(pl.struct(contract.duplicate_key).is_duplicated().any()).item() is False
