from __future__ import annotations

from pipelines.data.bench import _baseline, _make_raw
from pipelines.data.features import build_gold
from pipelines.data.ingest import ingest
from pipelines.data.refine import refine


def test_bench_baseline_query_yields_the_same_gold_rows_as_the_pipeline(work_dir, lake, config):
    """The hand-written baseline is only a fair comparison if it does the same transformation."""
    written = _make_raw(work_dir / "raw", 3_000, config.contract)
    assert written > 3_000  # planted duplicates on top
    ingest(work_dir / "raw", lake, config.contract)
    refine(lake, config.contract, "bench-only-pii-key-0123456789abcdef")
    pipeline = build_gold(lake, config.contract).rows
    assert _baseline(lake.url, "bench-only-pii-key-0123456789abcdef", config.contract) == pipeline
