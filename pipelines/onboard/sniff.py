"""Reads a sample of a user's raw files, whatever they are: CSV with any common delimiter and encoding (BOM
included), Parquet, newline-delimited JSON, or a folder of daily drops of one of these.

Every value comes back as text, as ingest will see it, so inference judges the data the pipeline will get.
What was detected (format, delimiter, encoding) is returned too: it goes into the config, and ingest reads
the next drops the same way.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from charset_normalizer import from_bytes

from pipelines.data.raw_files import RawFileError, check_regular, read_bytes

SAMPLE_BYTES = 4 << 20  # per file: enough rows to judge types and ranges, little enough to stay fast
SAMPLE_ROWS = 50_000
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
JSON_SUFFIXES = {".json", ".ndjson", ".jsonl"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
DELIMITERS = ",;\t|"
BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


class SniffError(ValueError):
    """A sample that cannot be read; the message names the file and what to do."""


@dataclass(frozen=True)
class Sample:
    frame: pl.DataFrame  # every column as text (null for empty)
    files: list[Path]
    format: str  # csv | parquet | ndjson
    delimiter: str | None = None
    encoding: str | None = None


def list_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.iterdir() if p.suffix.lower() in CSV_SUFFIXES | JSON_SUFFIXES | PARQUET_SUFFIXES
            )
        elif path.exists() or path.is_symlink():
            files.append(path)
        else:
            raise SniffError(f"{path}: no such file or folder")
    for path in files:  # a FIFO, a device, a folder or a link loop named like a drop: refused, never opened
        try:
            check_regular(path)
        except RawFileError as err:
            raise SniffError(str(err)) from err
    if not files:
        raise SniffError(f"no CSV, Parquet or JSON files in {', '.join(map(str, paths))}")
    formats = {_format(f) for f in files}
    if len(formats) > 1:
        raise SniffError(f"the sample mixes formats {sorted(formats)}: point init at files of one kind")
    return files


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in JSON_SUFFIXES:
        return "ndjson"
    return "csv"


def detect_encoding(head: bytes) -> str:
    for bom, name in BOMS:
        if head.startswith(bom):
            return name
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start >= len(head) - 4:  # merely a character cut at the sample's end
            return "utf-8"
        try:  # the usual legacy export (Excel, Western Europe); statistical guessers confuse it with cp1250
            head.decode("cp1252")
        except UnicodeDecodeError:
            best = from_bytes(head).best()
            return best.encoding if best else "latin-1"
        return "cp1252"
    return "utf-8"


def detect_delimiter(text: str, path: Path) -> str:
    try:
        return csv.Sniffer().sniff(text[:64_000], delimiters=DELIMITERS).delimiter
    except csv.Error as err:
        raise SniffError(f"{path}: cannot tell the delimiter (tried {DELIMITERS!r}); is it a CSV file?") from err


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    texts = [pl.col(c).cast(pl.String) if frame.schema[c] != pl.String else pl.col(c) for c in frame.columns]
    return frame.select(texts).with_columns(pl.all().replace("", None))


def _read_csv(path: Path) -> tuple[pl.DataFrame, str, str]:
    head = read_bytes(path, SAMPLE_BYTES)
    if not head.strip():
        raise SniffError(f"{path}: the file is empty")
    encoding = detect_encoding(head)
    text = head.decode(encoding, errors="replace")
    if len(head) == SAMPLE_BYTES:
        text = text[: text.rfind("\n") + 1]  # whole lines only
    delimiter = detect_delimiter(text, path)
    try:
        frame = pl.read_csv(
            io.StringIO(text), separator=delimiter, infer_schema=False, truncate_ragged_lines=True, n_rows=SAMPLE_ROWS
        )
    except pl.exceptions.PolarsError as err:
        raise SniffError(f"{path}: not readable as CSV with delimiter {delimiter!r} ({err})") from err
    return frame, delimiter, encoding


def read_sample(paths: list[Path]) -> Sample:
    files = list_files(paths)
    kind = _format(files[0])
    frames, delimiter, encoding = [], None, None
    for path in files:
        try:
            if kind == "parquet":
                frames.append(_as_text(pl.read_parquet(io.BytesIO(read_bytes(path)), n_rows=SAMPLE_ROWS)))
            elif kind == "ndjson":
                frames.append(_as_text(pl.read_ndjson(io.BytesIO(read_bytes(path)), n_rows=SAMPLE_ROWS)))
            else:
                frame, delimiter, encoding = _read_csv(path)
                frames.append(_as_text(frame))
        except RawFileError as err:
            raise SniffError(str(err)) from err
        except (pl.exceptions.PolarsError, OSError) as err:
            raise SniffError(f"{path}: cannot be read as {kind} ({err})") from err
    try:
        frame = pl.concat(frames, how="diagonal")
    except pl.exceptions.PolarsError as err:
        raise SniffError(f"the files do not share columns: {err}") from err
    if frame.height == 0:
        raise SniffError(f"the sample has a header but no rows ({', '.join(map(str, files))})")
    return Sample(frame, files, kind, delimiter, encoding)
