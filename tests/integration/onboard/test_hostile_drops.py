"""Hostile drops, each alone in the raw folder on top of a loaded lake: one clear message naming the file, a
non-zero exit, the lake untouched, no hang (a deadline interrupts a blocked open, and the test fails).

The folders' paths are longer than a console line, as a CI runner's workspace is: the message must carry the
path whole, so it can be copied from a log (a console that folds it mid-name breaks it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.config import WORK_DIR_ENV
from pipelines.data.ingest import ingest
from pipelines.demo import generate_raw_drops
from tests.conftest import TEST_PII_KEY

DEADLINE_S = 60
# wider than the 80 columns a console falls back to when it is not a terminal (a CI log)
LONG_NAME = "a-folder-named-at-length-like-home-runner-work-repository-repository-on-a-ci-runner"
pytestmark = [pytest.mark.integration, pytest.mark.timeout(DEADLINE_S)]


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _directory(path: Path) -> None:
    path.mkdir()


def _link_loop(path: Path) -> None:
    path.symlink_to(path.with_name("y.csv"))
    path.with_name("y.csv").symlink_to(path)


def _dangling(path: Path) -> None:
    path.symlink_to(path.with_name("gone.csv"))


def _device(path: Path) -> None:
    path.symlink_to("/dev/zero")  # endless: a reader that opens it never finishes


HOSTILE: dict[str, tuple[Callable[[Path], None], str]] = {
    "FIFO": (_fifo, "named pipe"),
    "directory": (_directory, "a directory"),
    "symlink loop": (_link_loop, "symbolic link loop"),
    "dangling symlink": (_dangling, "does not exist"),
    "device": (_device, "character device"),
}


def _mlrig(*args: str) -> tuple[int, str]:
    """Exit code and output, as printed."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def work_dir(tmp_path, monkeypatch):
    """The shared work folder (tests/conftest.py), at a path longer than a console line."""
    work = tmp_path / LONG_NAME
    work.mkdir()
    monkeypatch.setenv(WORK_DIR_ENV, str(work))
    monkeypatch.setenv("MLRIG_PII_KEY", TEST_PII_KEY)
    return work


def _lake_files(work: Path) -> dict[str, int]:
    lake = work / "lake"
    return {str(p.relative_to(lake)): p.stat().st_size for p in lake.rglob("*") if p.is_file()}


@pytest.fixture
def loaded_lake(work_dir, lake, config):
    """A lake with bronze from real demo drops, and the raw folder emptied for the hostile file."""
    generate_raw_drops(config.contract, config.raw_dir, rows=300, days=1, seed=5)
    ingest(config.raw_dir, lake, config.contract)
    shutil.rmtree(config.raw_dir)
    config.raw_dir.mkdir()
    return work_dir


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_drop_is_refused_by_name_and_the_lake_is_untouched(case, loaded_lake, config):
    make, words = HOSTILE[case]
    make(config.raw_dir / "x.csv")
    before = _lake_files(loaded_lake)
    code, output = _mlrig("ingest")
    assert code == 1, output
    assert str(config.raw_dir / "x.csv") in output and words in output, output
    assert "Traceback" not in output
    assert _lake_files(loaded_lake) == before


@pytest.mark.parametrize("case", list(HOSTILE))
def test_init_refuses_a_hostile_sample_by_name_without_hanging(case, tmp_path):
    exports = tmp_path / LONG_NAME
    exports.mkdir()
    (exports / "a.csv").write_text("x,y\n1,yes\n2,no\n")
    HOSTILE[case][0](exports / "x.csv")
    code, output = _mlrig("init", "--from", str(exports), "--target", "y", "--config", str(tmp_path / "c.toml"))
    assert code == 1, output
    assert str(exports / "x.csv") in output and HOSTILE[case][1] in output, output
    assert not (tmp_path / "c.toml").exists()


def test_parquet_drops_under_a_csv_config_are_named_with_the_fix(loaded_lake, config):
    pl.DataFrame({"a": [1]}).write_parquet(config.raw_dir / "x.parquet")
    code, output = _mlrig("ingest")
    assert code == 1
    assert "x.parquet" in output and "format = 'parquet'" in output, output


def test_a_utf16_export_is_ingested_as_init_reads_it(loaded_lake, config, lake):
    drops = generate_raw_drops(config.contract, loaded_lake / "other", rows=50, days=1, seed=9, dirt_rate=0)
    text = drops.files[0].read_text(encoding="utf-8")
    (config.raw_dir / "utf16.csv").write_bytes(text.encode("utf-16"))  # with its BOM, as Excel writes it
    before = lake.table("bronze", config.contract.dataset).read().height
    code, output = _mlrig("ingest")
    assert code == 0, output
    assert lake.table("bronze", config.contract.dataset).read().height == before + text.count("\n") - 1
