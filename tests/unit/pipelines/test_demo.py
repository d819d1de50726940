from __future__ import annotations

import polars as pl

from pipelines.demo import generate_raw_drops


def test_same_seed_same_files(tmp_path, contract):
    first = generate_raw_drops(contract, tmp_path / "a", rows=300, days=2, seed=5)
    second = generate_raw_drops(contract, tmp_path / "b", rows=300, days=2, seed=5)
    assert [p.read_bytes() for p in first.files] == [p.read_bytes() for p in second.files]


def test_drops_carry_the_contract_columns_pii_and_dirt(tmp_path, contract):
    report = generate_raw_drops(contract, tmp_path, rows=1000, days=2, seed=5, dirt_rate=0.05)
    frame = pl.read_csv(report.files, infer_schema=False, truncate_ragged_lines=True)
    assert frame.columns == list(contract.columns)
    assert frame.height == report.rows_written == 1000 + report.duplicates
    assert frame["email"].drop_nulls().str.contains("@").all()
    assert abs(report.bad_rows - 50) <= len(report.files)  # 5 %, rounded down per file
    assert report.truncated > 0 and report.unparseable > 0 and report.out_of_range > 0
    assert set(frame["churned"].drop_nulls()) <= {"yes", "no"}
