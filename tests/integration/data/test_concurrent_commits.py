"""Writers committing to one table at the same moment (the shards of an Indexed Job) each learn their own version.

Found by test_partitions.py failing now and then in CI: two shards' lineage named the same silver version. The
table's history, loaded while others commit, listed part of the log and numbered commits by position (8 of 25
trials of this race went wrong before the fix)."""

from __future__ import annotations

import multiprocessing

import polars as pl
import pytest

from pipelines.lake import Lake

pytestmark = pytest.mark.integration
WRITERS, TRIALS = 3, 8
SCHEMA = pl.Schema({"value": pl.Int64, "_shard": pl.String})


def _label(index: int) -> str:
    return f"{index}-of-{WRITERS}"


def _commit_one_shard(url: str, index: int, start: multiprocessing.synchronize.Barrier, versions) -> None:
    table = Lake(url).table("silver", "racing")
    staged = table.stage(SCHEMA, ["_shard"])
    staged.add(pl.DataFrame({"value": [index] * 10, "_shard": [_label(index)] * 10}, schema=SCHEMA))
    start.wait()  # every writer commits at once
    others = [_label(other) for other in range(WRITERS) if other != index]
    versions.put((index, table.replace(staged, [("_shard", "not in", others)])))


def test_racing_shard_writers_each_get_their_own_commits_version(tmp_path):
    spawn = multiprocessing.get_context("spawn")  # a fork of a process running polars' threads can hang
    for trial in range(TRIALS):
        url = str(tmp_path / f"lake-{trial}")
        table = Lake(url).table("silver", "racing")
        seed = table.stage(SCHEMA, ["_shard"])
        seed.add(pl.DataFrame({"value": [-1], "_shard": ["0-of-1"]}, schema=SCHEMA))
        assert table.replace(seed) == 0
        start, versions = spawn.Barrier(WRITERS), spawn.Queue()
        writers = [spawn.Process(target=_commit_one_shard, args=(url, i, start, versions)) for i in range(WRITERS)]
        for writer in writers:
            writer.start()
        got = dict(versions.get(timeout=120) for _ in writers)
        for writer in writers:
            writer.join(timeout=60)
            assert writer.exitcode == 0
        assert sorted(got.values()) == list(range(1, WRITERS + 1)), f"trial {trial}: {got}"
        committed = table.read()  # and each version holds that writer's rows
        for index, version in got.items():
            rows = table.read(version).filter(pl.col("_shard") == _label(index))
            assert rows["value"].to_list() == [index] * 10, (trial, index, version)
        assert committed.height == WRITERS * 10  # the seed partition, of another shard count, replaced
