"""The stages' own Parquet files and their one Delta commit (`TableRef.stage` / `replace`): nothing is visible
before the commit, a shard's commit replaces only its partition (and stale labels), discarded files are gone."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from pipelines.data.refine import SHARD, Shard, replace_filter
from pipelines.lake import Lake

SCHEMA = pl.Schema({"id": pl.Int64, "name": pl.String, SHARD: pl.String})


def rows(ids: range, shard: str) -> pl.DataFrame:
    return pl.DataFrame({"id": list(ids), "name": [f"n{i}" if i % 3 else None for i in ids], SHARD: shard}, SCHEMA)


@pytest.fixture
def table(tmp_path: Path):
    return Lake(str(tmp_path / "lake")).table("silver", "things")


def test_staged_files_are_invisible_until_the_commit_then_all_at_once(table):
    staged = table.stage(SCHEMA, [SHARD])
    staged.add(rows(range(0, 10), "0-of-2"))
    staged.add(pl.concat([rows(range(10, 15), "1-of-2"), rows(range(15, 20), "0-of-2")]))
    assert len(staged.actions) == 3 and staged.rows == 20
    assert not table.exists()  # files on disk, no table: a crash here leaves orphans, not a partial table

    version = table.replace(staged)
    assert version == table.version() == 0
    got = table.read()
    assert got.height == 20
    assert got.filter(pl.col(SHARD) == "0-of-2")["id"].sort().to_list() == [*range(0, 10), *range(15, 20)]
    assert got.filter(pl.col(SHARD) == "1-of-2")["id"].sort().to_list() == list(range(10, 15))
    stats = pl.DataFrame(DeltaTable(table.uri).get_add_actions(flatten=True))
    assert stats["num_records"].sum() == 20
    assert stats["null_count.name"].sum() == got["name"].null_count() > 0


def test_a_shards_commit_replaces_its_partition_and_stale_labels_only(table):
    first = table.stage(SCHEMA, [SHARD])
    first.add(pl.concat([rows(range(0, 4), "0-of-2"), rows(range(4, 8), "1-of-2"), rows(range(8, 9), "0-of-3")]))
    table.replace(first)

    again = table.stage(SCHEMA, [SHARD])
    again.add(rows(range(100, 102), "0-of-2"))
    table.replace(again, replace_filter(Shard(0, 2)))

    got = table.read()
    assert sorted(got.filter(pl.col(SHARD) == "0-of-2")["id"]) == [100, 101]  # replaced
    assert sorted(got.filter(pl.col(SHARD) == "1-of-2")["id"]) == [4, 5, 6, 7]  # the other shard kept
    assert "0-of-3" not in set(got[SHARD])  # a label of another shard count is stale: removed


def test_whole_table_replace_and_an_empty_commit(table):
    staged = table.stage(SCHEMA, [SHARD])
    staged.add(rows(range(0, 5), "0-of-1"))
    table.replace(staged)
    empty = table.stage(SCHEMA, [SHARD])
    empty.add(rows(range(0, 0), "0-of-1"))
    assert empty.actions == []
    table.replace(empty)
    assert table.read().height == 0 and table.version() == 1


def test_discarded_files_are_deleted_and_odd_partition_values_refused(table):
    staged = table.stage(SCHEMA, [SHARD])
    staged.add(rows(range(0, 5), "0-of-1"))
    written = [Path(table.uri, action.path) for action in staged.actions]
    assert all(path.exists() for path in written)
    staged.discard()
    assert not any(path.exists() for path in written) and staged.actions == []
    with pytest.raises(ValueError, match="partition value"):
        staged.add(rows(range(0, 1), "../escape"))
