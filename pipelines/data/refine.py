"""Refine: bronze/<dataset> → silver/<dataset> (typed, valid, de-duplicated, PII treated) + quarantine/<dataset>.

Every bronze row ends in exactly one place, and the counts are checked before anything is written:
    bronze rows = silver rows + quarantined rows + duplicates removed.
A quarantined row keeps its raw text (PII treated) and the rules it broke, so it can be fixed and replayed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from pipelines.config import Contract
from pipelines.contract import cast_from_text, silver_columns, typed_schema
from pipelines.data.ingest import INGESTED_AT, SOURCE_FILE, SOURCE_LINE
from pipelines.lake import Lake
from pipelines.lineage import Run, is_up_to_date, record
from pipelines.pii import treat_pii

RULE, QUARANTINE_RUN = "_rule", "_quarantine_run_id"
_ROW = "__row"


class RefineError(RuntimeError):
    """Refine cannot run (no bronze yet) or its row accounting does not add up."""


@dataclass(frozen=True)
class RefineResult:
    run_id: str
    up_to_date: bool
    bronze_rows: int = 0
    silver_rows: int = 0
    quarantined: int = 0
    duplicates: int = 0
    silver_version: int | None = None


def _type_failures(raw: pl.DataFrame, typed: pl.DataFrame, contract: Contract) -> pl.Series:
    """Per row, the columns whose raw text did not parse as the contract type ('' when all parsed)."""
    reasons = [
        pl.when(raw[c.name].is_not_null() & typed[c.name].is_null()).then(pl.lit(f"{c.name}: not a valid {c.dtype}"))
        for c in contract.columns.values()
        if c.dtype not in ("string", "category")
    ]
    return pl.select(pl.concat_str(reasons, separator="; ", ignore_nulls=True).fill_null("")).to_series()


def _contract_failures(typed: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Rows (by __row) that break a contract check, with the rules they broke."""
    try:
        typed_schema(contract).validate(typed, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases.filter(pl.col("index").is_not_null())
        return (
            cases.with_columns(pl.col("index").cast(pl.Int64))
            .join(
                typed.select(_ROW).with_row_index("index").with_columns(pl.col("index").cast(pl.Int64)),
                on="index",
            )
            .group_by(_ROW)
            .agg(
                pl.concat_str([pl.col("column"), pl.col("check")], separator=": ")
                .unique()
                .sort()
                .str.join("; ")
                .alias(RULE)
            )
        )
    return pl.DataFrame(schema={_ROW: pl.UInt32, RULE: pl.String})


def refine(lake: Lake, contract: Contract, pii_key: str) -> RefineResult:
    bronze = lake.table("bronze", contract.dataset)
    silver, quarantine = lake.table("silver", contract.dataset), lake.table("quarantine", contract.dataset)
    if not bronze.exists():
        raise RefineError(f"{bronze.label} does not exist yet: run `mlrig ingest` first.")
    run = Run(stage="refine", contract_hash=contract.fingerprint, inputs={bronze.label: bronze.version()})
    if is_up_to_date(lake, run):
        return RefineResult(run.run_id, up_to_date=True, silver_version=silver.version())

    raw = bronze.read(run.inputs[bronze.label]).sort(INGESTED_AT, SOURCE_FILE, SOURCE_LINE).with_row_index(_ROW)
    typed = raw.with_columns(cast_from_text(c) for c in contract.columns.values())
    type_rule = _type_failures(raw, typed, contract)
    parsed = typed.filter(type_rule == "")
    broken = _contract_failures(parsed, contract)
    rules = pl.concat(
        [
            raw.select(_ROW).with_columns(type_rule.alias(RULE)).filter(pl.col(RULE) != ""),
            broken.with_columns(pl.col(_ROW).cast(pl.UInt32)),
        ]
    )

    valid = parsed.join(rules, on=_ROW, how="anti")
    first = valid.select(pl.struct(contract.duplicate_key).is_first_distinct()).to_series()
    silver_rows = treat_pii(valid.filter(first), contract, pii_key).select(
        *silver_columns(contract), SOURCE_FILE, SOURCE_LINE, INGESTED_AT
    )
    quarantined = (
        treat_pii(raw.join(rules, on=_ROW), contract, pii_key)
        .drop(_ROW)
        .with_columns(pl.lit(run.run_id).alias(QUARANTINE_RUN))
    )

    duplicates = valid.height - silver_rows.height
    if raw.height != silver_rows.height + quarantined.height + duplicates:
        raise RefineError(
            f"row accounting broke: bronze {raw.height} != silver {silver_rows.height} + "
            f"quarantine {quarantined.height} + duplicates {duplicates}. Nothing was written."
        )
    run.outputs[quarantine.label] = quarantine.write(quarantined, mode="overwrite")
    run.outputs[silver.label] = silver.write(silver_rows, mode="overwrite")
    run.counts = {
        "bronze": raw.height,
        "silver": silver_rows.height,
        "quarantined": quarantined.height,
        "duplicates": duplicates,
    }
    record(lake, run)
    return RefineResult(
        run.run_id,
        False,
        raw.height,
        silver_rows.height,
        quarantined.height,
        duplicates,
        run.outputs[silver.label],
    )
