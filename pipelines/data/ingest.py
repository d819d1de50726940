"""Ingest: raw CSV drops → bronze/<dataset>, as received (all text) plus load metadata. Append-only.

Each ingest's rows are stored sorted by their key slot (`_key_slot`, keys.py), so refine reads one bucket of
records at a time straight from bronze.

Drops are read from a folder or an object-store prefix (`drops.DropFolder`), so a Job in a cluster reads them
from the platform's store with the lake's own credentials.

A file is identified by its SHA-256: one already in bronze is skipped, so re-running ingest adds nothing.
A file that cannot be read as the contract's columns is refused whole, with a message naming the file and
what to do; nothing already in the lake is touched.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.config import Contract
from pipelines.data.drops import DropFolder
from pipelines.data.keys import KEY_SLOT, key_slot
from pipelines.data.raw_files import RawFileError, read_bytes
from pipelines.lake import Lake
from pipelines.lineage import Run, record

SOURCE_FILE, SOURCE_SHA, SOURCE_LINE = "_source_file", "_source_sha256", "_source_line"
INGESTED_AT, INGEST_DATE, RUN_ID = "_ingested_at", "_ingest_date", "_run_id"
# Rows per bronze row group. A drop is written sorted by key slot, so a group holds a narrow slot range and
# refine reads a bucket (a slot range) skipping the other groups by their statistics. Smaller groups skip more
# but cost memory: refining 1M rows peaked at 1.28 GiB with 16k-row groups, 0.99 GiB with 64k (docs/data.md).
BRONZE_ROW_GROUP_ROWS = 65_536


_ARCHIVE_MAGIC = (b"\x1f\x8b", b"PK\x03\x04", b"\x28\xb5\x2f\xfd", b"BZh")  # gzip, zip/xlsx, zstd, bzip2


class IngestError(ValueError):
    """A raw file that cannot be ingested; the message names the file and the fix."""


@dataclass(frozen=True)
class IngestResult:
    run_id: str
    files_ingested: int
    files_skipped: int
    rows: int
    bronze_version: int | None
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)  # file → extra columns not stored


def _raw_bytes(path: Path) -> bytes:
    """A drop's bytes; anything that is not a regular file (a FIFO, a device, a directory, a link loop) is
    refused by name without being opened."""
    try:
        return read_bytes(path)
    except RawFileError as err:
        raise IngestError(str(err)) from err


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _utf8_bytes(path: Path | str, encoding: str, data: bytes) -> bytes:
    """The file as UTF-8, transcoded from `encoding`; a byte that does not decode is refused by line.

    A byte-order mark is unambiguous and wins over the configured encoding: Excel's "Unicode text" and "CSV
    UTF-8" exports carry one (UTF-16 and UTF-8 with BOM), and `mlrig init` reads them the same way."""
    if data.startswith(_UTF16_BOMS):
        encoding = "utf-16"
    elif data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif data.startswith(_ARCHIVE_MAGIC) or b"\x00" in data[:8192]:
        raise IngestError(
            f"{path}: binary content, not CSV text (compressed, or a spreadsheet saved as .csv?). Unpack or "
            "re-export it as CSV; nothing was ingested."
        )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise IngestError(
            f"{path}: line {line} is not valid {encoding} (byte {data[err.start]:#04x}). If the file is a Latin-1 or "
            'Excel export, set encoding = "cp1252" under [storage] in mlrig.toml (ingest transcodes it), or '
            "re-export it as UTF-8. Nothing was ingested."
        ) from err
    return data if encoding == "utf-8" or codecs.lookup(encoding).name == "utf-8" else text.encode("utf-8")


def _first_long_line(data: bytes, width: int) -> int:
    """The line number of the first record with more fields than the header (only called on the error path)."""
    rows = csv.reader(io.StringIO(data.decode("utf-8", errors="replace")))
    return next((n for n, row in enumerate(rows, start=1) if len(row) > width), 0)


RAW_SUFFIXES = {
    "csv": ("*.csv", "*.tsv", "*.txt"),
    "parquet": ("*.parquet",),
    "ndjson": ("*.ndjson", "*.jsonl", "*.json"),
}


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Typed files (Parquet, JSON) as text, like a CSV drop: bronze keeps what was received, refine types it."""
    return frame.select(pl.col(c).cast(pl.String) for c in frame.columns).with_columns(pl.all().replace("", None))


def _read_typed(path: Path | str, file_format: str, data: bytes) -> pl.DataFrame:
    if not data:
        raise IngestError(f"{path}: the file is empty. Remove it or replace it with a full export.")
    try:
        source = io.BytesIO(data)
        frame = pl.read_parquet(source) if file_format == "parquet" else pl.read_ndjson(source)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise IngestError(
            f"{path}: not readable as {file_format} ({err}). Re-export it; nothing was ingested."
        ) from err
    return _as_text(frame)


def read_raw_file(
    path: Path | str,
    contract: Contract,
    encoding: str = "utf-8",
    delimiter: str = ",",
    file_format: str = "csv",
    data: bytes | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """Read one drop as text: (the contract's columns, names of extra columns that were ignored).

    Policy: a missing column refuses the file; an extra column is ignored (reported, not stored), so an upstream
    addition does not stop the pipeline until the contract adopts it. Short (truncated) records are kept with
    nulls and quarantined by refine; a record with more fields than the header refuses the file.
    """
    data = _raw_bytes(Path(path)) if data is None else data
    if file_format != "csv":
        return _checked_columns(path, _read_typed(path, file_format, data), contract)
    if not data:
        raise IngestError(
            f"{path}: the file is empty. Remove it from the drop folder or replace it with a full export."
        )
    data = _utf8_bytes(path, encoding, data)
    try:
        frame = pl.read_csv(io.BytesIO(data), infer_schema=False, raise_if_empty=True, separator=delimiter)
    except pl.exceptions.NoDataError as err:
        raise IngestError(f"{path}: no header or rows. Replace it with a full export; nothing was ingested.") from err
    except pl.exceptions.ComputeError as err:
        header = data.split(b"\n", 1)[0].count(delimiter.encode()) + 1
        line = _first_long_line(data, header) if "more fields" in str(err) else 0
        where = f"line {line} has more fields than the {header} in the header" if line else str(err).splitlines()[0]
        raise IngestError(
            f"{path}: not readable as CSV ({where}). Check the export (delimiter, quoting, truncation); "
            "nothing was ingested."
        ) from err
    except OSError as err:  # polars sniffed a compression header and the archive is broken
        raise IngestError(
            f"{path}: not a CSV text file ({err}). Unpack or re-export it; nothing was ingested."
        ) from err
    return _checked_columns(path, frame, contract)


def _checked_columns(path: Path | str, frame: pl.DataFrame, contract: Contract) -> tuple[pl.DataFrame, list[str]]:
    missing = [c for c in contract.columns if c not in frame.columns]
    if missing:
        raise IngestError(
            f"{path}: missing column(s) {missing}. The contract in mlrig.toml expects {list(contract.columns)}; "
            "fix the export or the contract. Nothing was ingested."
        )
    extra = [c for c in frame.columns if c not in contract.columns]
    return frame.select(list(contract.columns)), extra


def _no_drops(raw: DropFolder, file_format: str) -> str:
    """Why nothing was found: an empty folder, or drops of another format than [storage] format names."""
    wanted = "/".join(RAW_SUFFIXES[file_format])
    others = {fmt: raw.names(patterns) for fmt, patterns in RAW_SUFFIXES.items() if fmt != file_format}
    found = {fmt: names for fmt, names in others.items() if names}
    if found:
        fmt, names = next(iter(found.items()))
        return (
            f"no {wanted} drops in {raw}, but {fmt} files are there ({', '.join(names[:3])}): [storage] format "
            f"is {file_format!r}. Set format = {fmt!r} under [storage] in the config (`mlrig init` detects it), "
            "or export CSV. Nothing was ingested."
        )
    return f"no {wanted} drops in {raw}. Put raw files there (or run `mlrig generate` for demo data)."


def ingest(
    raw_dir: Path | str | DropFolder,
    lake: Lake,
    contract: Contract,
    encoding: str = "utf-8",
    ingested_at: dt.datetime | None = None,
    progress: Callable[[str], None] | None = None,
    delimiter: str = ",",
    file_format: str = "csv",
) -> IngestResult:
    """Append every new drop in `raw_dir` (a folder or an s3:// prefix) to bronze in one transaction, partitioned
    by ingestion date.

    Every file is read and checked before anything is written, so one bad file leaves the lake as it was.
    `ingested_at` (default now, UTC) sets the partition, e.g. to backfill an old drop into its own day.
    """
    bronze = lake.table("bronze", contract.dataset)
    run = Run(stage="ingest", contract_hash=contract.fingerprint)
    raw = raw_dir if isinstance(raw_dir, DropFolder) else DropFolder(raw_dir)
    try:
        names = raw.names(RAW_SUFFIXES[file_format])
    except RawFileError as err:
        raise IngestError(str(err)) from err
    if not names:
        raise IngestError(_no_drops(raw, file_format))
    seen = set(bronze.scan().select(SOURCE_SHA).unique().collect()[SOURCE_SHA]) if bronze.exists() else set()
    now = ingested_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    parts, skipped, ignored = [], 0, {}
    for name in names:
        path = raw.location(name)
        try:
            data = raw.read(name)
        except RawFileError as err:
            raise IngestError(str(err)) from err
        sha = hashlib.sha256(data).hexdigest()
        if sha in seen:
            skipped += 1
            continue
        frame, extra = read_raw_file(path, contract, encoding, delimiter, file_format, data)
        if extra:
            ignored[name] = extra
        if progress:
            extra_note = f"; ignored extra column(s) {extra}" if extra else ""
            progress(f"{name}: {frame.height} rows read{extra_note}")
        parts.append(
            frame.with_columns(
                pl.lit(name).alias(SOURCE_FILE),
                pl.lit(sha).alias(SOURCE_SHA),
                (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias(SOURCE_LINE),  # line 1 is the header
                pl.lit(now).alias(INGESTED_AT),
                pl.lit(now.date().isoformat()).alias(INGEST_DATE),
                pl.lit(run.run_id).alias(RUN_ID),
            )
        )
        run.inputs[name] = sha
    rows = sum(p.height for p in parts)
    version = bronze.version()
    if parts:
        # sorted by key slot, so refine reads each bucket from bronze directly (pipelines/data/keys.py)
        rows_in = pl.concat(parts).with_columns(key_slot(contract)).sort(KEY_SLOT, maintain_order=True)
        older = version is not None and KEY_SLOT not in bronze.scan().collect_schema().names()
        version = bronze.write(
            rows_in,
            mode="append",
            partition_by=[INGEST_DATE],
            add_columns=older,  # a bronze table from before key slots gains the column; its rows read null
            row_group_rows=BRONZE_ROW_GROUP_ROWS,
        )
    run.outputs[bronze.label] = version
    run.counts = {"files_ingested": len(parts), "files_skipped": skipped, "rows": rows}
    record(lake, run)
    return IngestResult(run.run_id, len(parts), skipped, rows, version, ignored)
