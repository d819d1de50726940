"""Ingest: raw CSV drops → bronze/<dataset>, as received (all text) plus load metadata. Append-only.

A file is identified by its SHA-256: one already in bronze is skipped, so re-running ingest adds nothing.
A file that cannot be read as the contract's columns is refused whole, with a message naming the file and
what to do; nothing already in the lake is touched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.config import Contract
from pipelines.lake import Lake
from pipelines.lineage import Run, record

SOURCE_FILE, SOURCE_SHA, SOURCE_LINE = "_source_file", "_source_sha256", "_source_line"
INGESTED_AT, INGEST_DATE, RUN_ID = "_ingested_at", "_ingest_date", "_run_id"


class IngestError(ValueError):
    """A raw file that cannot be ingested; the message names the file and the fix."""


@dataclass(frozen=True)
class IngestResult:
    run_id: str
    files_ingested: int
    files_skipped: int
    rows: int
    bronze_version: int | None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_raw_file(path: Path, contract: Contract) -> pl.DataFrame:
    """Read one drop as text, checking it has the contract's columns; raise IngestError otherwise."""
    if path.stat().st_size == 0:
        raise IngestError(
            f"{path}: the file is empty. Remove it from the drop folder or replace it with a full export."
        )
    try:
        frame = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True, raise_if_empty=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as err:
        raise IngestError(f"{path}: not readable as CSV ({err}). Check the export; nothing was ingested.") from err
    missing = [c for c in contract.columns if c not in frame.columns]
    if missing:
        raise IngestError(
            f"{path}: missing column(s) {missing}. The contract in mlrig.toml expects {list(contract.columns)}; "
            "fix the export or the contract. Nothing was ingested."
        )
    return frame.select(list(contract.columns))


def ingest(raw_dir: Path, lake: Lake, contract: Contract) -> IngestResult:
    """Append every new drop in `raw_dir` to bronze in one transaction."""
    bronze = lake.table("bronze", contract.dataset)
    run = Run(stage="ingest", contract_hash=contract.fingerprint)
    files = sorted(raw_dir.glob("*.csv"))
    if not files:
        raise IngestError(f"no *.csv drops in {raw_dir}. Put raw files there (or run `mlrig generate` for demo data).")
    seen = set(bronze.scan().select(SOURCE_SHA).unique().collect()[SOURCE_SHA]) if bronze.exists() else set()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    parts, skipped = [], 0
    for path in files:
        sha = _sha256(path)
        if sha in seen:
            skipped += 1
            continue
        frame = read_raw_file(path, contract)
        parts.append(
            frame.with_columns(
                pl.lit(path.name).alias(SOURCE_FILE),
                pl.lit(sha).alias(SOURCE_SHA),
                (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias(SOURCE_LINE),  # line 1 is the header
                pl.lit(now).alias(INGESTED_AT),
                pl.lit(now.date().isoformat()).alias(INGEST_DATE),
                pl.lit(run.run_id).alias(RUN_ID),
            )
        )
        run.inputs[path.name] = sha
    rows = sum(p.height for p in parts)
    version = bronze.version()
    if parts:
        version = bronze.write(pl.concat(parts), mode="append", partition_by=[INGEST_DATE])
    run.outputs[bronze.label] = version
    run.counts = {"files_ingested": len(parts), "files_skipped": skipped, "rows": rows}
    record(lake, run)
    return IngestResult(run.run_id, len(parts), skipped, rows, version)
