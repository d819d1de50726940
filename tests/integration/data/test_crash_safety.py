"""SIGKILL a real `mlrig` process in the middle of a Delta write; every table stays readable at its previous
version, and the next run completes with no row lost or duplicated."""

from __future__ import annotations

import datetime as dt
import json
import signal

import polars as pl
import pytest

from pipelines.data.ingest import SOURCE_FILE, SOURCE_LINE, ingest
from pipelines.data.refine import refine
from pipelines.demo import generate_raw_drops
from pipelines.lake import BLOCK_READY_ENV, BLOCK_WRITE_ENV
from pipelines.lineage import LINEAGE_TABLE
from tests.conftest import TEST_PII_KEY
from tests.integration.data.conftest import mlrig, run_mlrig, wait_for

pytestmark = pytest.mark.integration


def kill_inside_write(table_label: str, stage: str, work_dir) -> None:
    ready = work_dir / f"blocked-in-{stage}"
    process = mlrig(stage, env={BLOCK_WRITE_ENV: table_label, BLOCK_READY_ENV: str(ready)})
    wait_for(ready, process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def succeeded_runs(lake, stage: str) -> int:
    runs = lake.table("lineage", LINEAGE_TABLE).read()
    return runs.filter((pl.col("stage") == stage) & (pl.col("status") == "succeeded")).height


def test_ingest_killed_mid_write_leaves_bronze_unwritten_and_rerun_loads_each_row_once(work_dir, lake, config):
    drops = generate_raw_drops(config.contract, config.raw_dir, rows=400, days=2, seed=3)
    kill_inside_write("bronze/customers", "ingest", work_dir)
    bronze = lake.table("bronze", config.contract.dataset)
    assert bronze.version() is None  # the first commit never happened: no table, not a broken one

    run_mlrig("ingest")
    rows = bronze.read()
    assert rows.height == drops.rows_written
    assert rows.select(pl.struct(SOURCE_FILE, SOURCE_LINE).is_unique().all()).item()


@pytest.mark.parametrize("killed_in", ["silver", "quarantine"])
def test_refine_killed_mid_write_keeps_tables_readable_and_rerun_accounts_for_every_row(
    work_dir, lake, config, killed_in
):
    """Killed inside silver's streamed write (nothing committed yet), or inside quarantine's, i.e. after silver
    already committed: the two-transaction hazard."""
    contract = config.contract
    first = generate_raw_drops(contract, config.raw_dir, rows=300, days=1, seed=5, dirt_rate=0.05)
    ingest(config.raw_dir, lake, contract)
    refine(lake, contract, TEST_PII_KEY)
    silver, quarantine = lake.table("silver", contract.dataset), lake.table("quarantine", contract.dataset)
    before = {t.label: (t.version(), t.read()) for t in (silver, quarantine)}
    second = generate_raw_drops(
        contract, config.raw_dir, rows=300, days=1, seed=6, dirt_rate=0.05, start=dt.date(2026, 11, 2)
    )
    ingest(config.raw_dir, lake, contract, ingested_at=dt.datetime(2026, 11, 3, 6))

    kill_inside_write(f"{killed_in}/customers", "refine", work_dir)

    version, rows = before[quarantine.label]
    assert quarantine.version() == version and quarantine.read().equals(rows)  # readers see the old quarantine
    version, rows = before[silver.label]
    if killed_in == "silver":
        assert silver.version() == version and silver.read().equals(rows)  # readers still see the old silver
    else:
        assert silver.version() == version + 1  # silver committed before the kill
    assert succeeded_runs(lake, "refine") == 1  # the killed run is not marked done, so it will be redone

    output = run_mlrig("refine")
    assert "silver rows" in output
    counts = json.loads(
        lake.table("lineage", LINEAGE_TABLE)
        .read()
        .filter(pl.col("stage") == "refine")
        .sort("finished_at")["counts"][-1]
    )
    bronze_rows = lake.table("bronze", contract.dataset).read().height
    assert counts == {
        "bronze": bronze_rows,
        "silver": silver.read().height,
        "quarantined": quarantine.read().height,
        "duplicates": first.duplicates + second.duplicates,
    }
    assert counts["quarantined"] == first.bad_rows + second.bad_rows
    assert counts["bronze"] == counts["silver"] + counts["quarantined"] + counts["duplicates"]
    for table in (silver, quarantine):  # nothing written twice
        assert table.read().select(pl.struct(SOURCE_FILE, SOURCE_LINE).is_unique().all()).item()
