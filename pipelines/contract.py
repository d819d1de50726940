"""Everything the pipeline derives from the data contract: column types, casts and the silver schema.

The contract in mlrig.toml says *what* a valid record is; this module turns it into the polars types and
the pandera schema that refine validates with. Nothing here restates a column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from pipelines.config import Column, Contract

if TYPE_CHECKING:  # pandera is a pipeline dependency, not a serving one: the serving image imports this module
    import pandera.polars as pa

POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "category": pl.String(),  # kept as text: the allowed set is checked, and the model encodes it
    "int": pl.Int64(),
    "float": pl.Float64(),
    "bool": pl.Boolean(),
    "datetime": pl.Datetime("us"),
}


def polars_type(column: Column) -> pl.DataType:
    return POLARS_TYPES[column.dtype]


ISO_DATETIME = "%Y-%m-%dT%H:%M:%S%.f"  # a datetime column's text when its contract names no `format`
_OFFSET_DIRECTIVES = ("%z", "%:z", "%::z", "%#z", "%+")  # format directives of a UTC offset


def _iso_shaped(raw: pl.Expr) -> pl.Expr:
    """ISO 8601's common shapes as one: a date alone is midnight, minutes without seconds get ":00", and a space
    may stand for the "T" between date and time ("2026-11-01 02:00" → "2026-11-01T02:00:00")."""
    size = raw.str.len_bytes()
    padded = pl.when(size == len("2026-11-01")).then(raw + "T00:00:00")
    padded = padded.when(size == len("2026-11-01T02:00")).then(raw + ":00").otherwise(raw)
    return padded.str.replace(" ", "T", literal=True)


def parse_datetime(raw: pl.Expr, text_format: str | None) -> pl.Expr:
    """Text → datetime (UTC wall time when the text carries an offset), the same for every row whatever the
    others hold. Why not polars' own guess: it takes the format of the column's first value, so a batch that
    began with "01/11/2026" turned every ISO value in it into null, and which rows were lost hung on row order."""
    if text_format is None:
        return _iso_shaped(raw).str.to_datetime(ISO_DATETIME, time_unit="us", strict=False)
    parsed = raw.str.to_datetime(text_format, time_unit="us", strict=False)
    return parsed.dt.replace_time_zone(None) if any(d in text_format for d in _OFFSET_DIRECTIVES) else parsed


def cast_from_text(column: Column) -> pl.Expr:
    """Parse a raw text column into its contract type; unparseable values become null (and are caught)."""
    raw = pl.col(column.name).str.strip_chars()
    if column.dtype == "datetime":
        return parse_datetime(raw, column.format).alias(column.name)
    if column.dtype == "bool":
        lowered = raw.str.to_lowercase()
        return (
            pl.when(lowered.is_in(["true", "1", "yes"]))
            .then(True)
            .when(lowered.is_in(["false", "0", "no"]))
            .then(False)
            .otherwise(None)
            .alias(column.name)
        )
    return raw.cast(polars_type(column), strict=False).alias(column.name)


def _checks(column: Column) -> list[pa.Check]:
    import pandera.polars as pa

    checks = []
    if column.min is not None:
        checks.append(pa.Check.ge(column.min))
    if column.max is not None:
        checks.append(pa.Check.le(column.max))
    if column.allowed:
        checks.append(pa.Check.isin(list(column.allowed)))
    return checks


def typed_schema(contract: Contract) -> pa.DataFrameSchema:
    """The contract as a pandera schema over typed (not yet PII-treated) records: nulls, ranges, allowed sets."""
    import pandera.polars as pa

    return pa.DataFrameSchema(
        {c.name: pa.Column(polars_type(c), checks=_checks(c), nullable=c.nullable) for c in contract.columns.values()},
        name=contract.dataset,
        strict=False,  # ingestion metadata columns ride along
    )


def silver_columns(contract: Contract) -> list[str]:
    """Columns that reach silver: everything but the PII the contract says to drop."""
    return [c.name for c in contract.columns.values() if c.pii != "drop"]


def example_request(contract: Contract) -> dict[str, Any]:
    """A valid request built from the contract alone: used for warm-up, docs and smoke tests."""
    example: dict[str, Any] = {}
    for column in contract.features:
        if column.dtype == "category":
            example[column.name] = (column.allowed or ("",))[0]
        elif column.dtype in ("int", "float"):
            low = column.min if column.min is not None else 0.0
            high = column.max if column.max is not None else low + 10.0
            value = low + (high - low) / 100
            example[column.name] = int(value) if column.dtype == "int" else round(value, 2)
        elif column.dtype == "bool":
            example[column.name] = False
        else:
            example[column.name] = ""
    return example
