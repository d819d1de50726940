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


def test_late_labels_follow_the_churn_law_of_the_training_data(tmp_path, contract):
    from pipelines.demo import outcome_labels

    report = generate_raw_drops(contract, tmp_path, rows=4000, days=1, seed=9, dirt_rate=0.0)
    raw = pl.read_csv(report.files, infer_schema_length=10_000).with_row_index("key")
    labels = outcome_labels(raw.with_columns(pl.col("key").cast(pl.String)), "key", seed=1)
    assert labels.height == raw.height
    observed = (raw["churned"] == "yes").mean()
    assert abs(labels["label"].mean() - observed) < 0.03  # same law, same base rate
    joined = raw.with_columns(labels["label"])
    monthly = joined.filter(pl.col("contract_type") == "monthly")["label"].mean()
    biennial = joined.filter(pl.col("contract_type") == "biennial")["label"].mean()
    assert monthly > biennial + 0.1  # the law, not noise


def test_generating_under_another_contract_stops_naming_what_the_demo_world_needs(tmp_path, contract):
    import pytest

    from pipelines.demo import DemoContractError

    other = contract.model_copy(update={"columns": {k: v for k, v in contract.columns.items() if k != "plan"}})
    with pytest.raises(DemoContractError, match="plan"):
        generate_raw_drops(other, tmp_path / "raw", rows=50, days=1)
    assert not (tmp_path / "raw").exists()  # nothing half-written
