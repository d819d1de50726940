"""Run lineage: every stage run appends one row saying what it read, what it wrote and how many rows went where.

The `lineage/runs` table is what makes a model reproducible (which gold version, which contract, which
commit) and what makes stages idempotent: a stage whose inputs match its last successful run has nothing to do.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.lake import Lake

LINEAGE_TABLE = "runs"


def code_version() -> str:
    """The git commit of the code that ran (with `-dirty` if it had local changes), or 'unknown' outside git."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit


@dataclass
class Run:
    """One stage run, filled in as the stage goes and committed with `Run.record`."""

    stage: str
    contract_hash: str
    inputs: dict[str, str | int | None] = field(default_factory=dict)
    outputs: dict[str, int | None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def as_row(self, status: str) -> dict:
        return {
            "run_id": self.run_id,
            "stage": self.stage,
            "status": status,
            "started_at": self.started_at.replace(tzinfo=None),
            "finished_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            "inputs": json.dumps(self.inputs, sort_keys=True),
            "outputs": json.dumps(self.outputs, sort_keys=True),
            "counts": json.dumps(self.counts, sort_keys=True),
            "code_version": code_version(),
            "contract_hash": self.contract_hash,
        }


def record(lake: Lake, run: Run, status: str = "succeeded") -> None:
    lake.table("lineage", LINEAGE_TABLE).write(pl.DataFrame([run.as_row(status)]), mode="append")


def last_success(lake: Lake, stage: str) -> dict | None:
    table = lake.table("lineage", LINEAGE_TABLE)
    if not table.exists():
        return None
    runs = (
        table.scan()
        .filter((pl.col("stage") == stage) & (pl.col("status") == "succeeded"))
        .sort("finished_at")
        .collect()
    )
    return runs.row(-1, named=True) if runs.height else None


def is_up_to_date(lake: Lake, run: Run) -> bool:
    """True when the stage's last success read exactly these inputs under the same contract."""
    last = last_success(lake, run.stage)
    return bool(
        last and last["inputs"] == json.dumps(run.inputs, sort_keys=True) and last["contract_hash"] == run.contract_hash
    )
