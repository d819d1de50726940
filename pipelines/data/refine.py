"""Refine: bronze/<dataset> → silver/<dataset> (typed, valid, de-duplicated, PII treated) + quarantine/<dataset>.

Every bronze row ends in exactly one place, and the counts are checked before anything is written:
    bronze rows = silver rows + quarantined rows + duplicates removed.
A quarantined row keeps its raw text (PII treated) and the rules it broke, so it can be fixed and replayed.

Runs are idempotent and crash-safe: quarantine and silver are each replaced (whole, or one `_ingest_date`
partition) from the same bronze version, and the lineage row that marks the run done is written last. A run
killed between the two commits therefore leaves no lineage row, and the next run redoes both writes from
bronze: nothing is lost or counted twice. `partition` lets a Kubernetes Indexed Job refine one day per pod.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from pipelines.config import Contract
from pipelines.contract import cast_from_text, silver_columns, typed_schema
from pipelines.data.ingest import INGEST_DATE, INGESTED_AT, RUN_ID, SOURCE_FILE, SOURCE_LINE
from pipelines.lake import Lake
from pipelines.lineage import Run, is_up_to_date, record
from pipelines.pii import treat_pii

RULE, QUARANTINE_RUN = "_rule", "_quarantine_run_id"
_ROW = "__row"
_PARTITION = re.compile(r"\d{4}-\d{2}-\d{2}")


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
    warnings: tuple[str, ...] = ()


def _type_failures(raw: pl.DataFrame, typed: pl.DataFrame, contract: Contract) -> pl.Series:
    """Per row, the columns whose raw text did not parse as the contract type ('' when all parsed)."""
    reasons = [
        pl.when(raw[c.name].is_not_null() & typed[c.name].is_null()).then(pl.lit(f"{c.name}: not a valid {c.dtype}"))
        for c in contract.columns.values()
        if c.dtype not in ("string", "category") and c.name in raw.columns
    ]
    return pl.select(pl.concat_str(reasons, separator="; ", ignore_nulls=True).fill_null("")).to_series()


def _contract_failures(typed: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Rows (by __row) that break a contract check, with the rules they broke.

    Columns the contract drops as PII are never read past bronze (less memory, less exposure), so they are
    not checked either.
    """
    schema = typed_schema(contract).remove_columns([c.name for c in contract.pii_columns if c.pii == "drop"])
    try:
        schema.validate(typed, lazy=True)
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


SYSTEMATIC_SHARE = 0.5  # a rule broken by most of a file's rows means a wrong export, not a few bad records


def systematic_failures(quarantined: pl.DataFrame, raw: pl.DataFrame) -> list[str]:
    """Per file, rules that most of its rows break (e.g. a whole column of the wrong type), as advice to act on."""
    per_file = raw.group_by(SOURCE_FILE).agg(pl.len().alias("total"))
    broken = (
        quarantined.select(SOURCE_FILE, pl.col(RULE).str.split("; "))
        .explode(RULE)
        .group_by(SOURCE_FILE, RULE)
        .agg(pl.len().alias("rows"))
        .join(per_file, on=SOURCE_FILE)
        .filter(pl.col("rows") >= SYSTEMATIC_SHARE * pl.col("total"))
        .sort(SOURCE_FILE, RULE)
    )
    return [
        f"{file}: {rows} of {total} rows break `{rule}`. The column is wrong as a whole (shifted columns, a changed "
        "export or type); fix the export and drop it again under a new name, or update the contract."
        for file, rule, rows, total in broken.iter_rows()
    ]


def duplicate_columns(contract: Contract) -> list[str]:
    """What makes two rows the same record: the contract's duplicate_key, or else every column (the same record
    exported twice). The whole-row comparison includes the PII columns, read here and never written."""
    return list(contract.duplicate_key) or list(contract.columns)


def rule_failures(raw: pl.DataFrame, typed: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Per broken row (by `__row`), the rules it breaks: its text did not parse, or a contract check failed.

    A row whose text did not parse is reported by that alone, not also by the checks its null then fails. Also
    what `mlrig init` runs on its sample, so a proposal is judged by the rules refine will apply.
    """
    type_rule = raw.select(_ROW).with_columns(_type_failures(raw, typed, contract).alias(RULE))
    type_rule = type_rule.filter(pl.col(RULE) != "")
    broken = _contract_failures(typed, contract).with_columns(pl.col(_ROW).cast(pl.UInt32))
    type_rule = type_rule.with_columns(pl.col(_ROW).cast(pl.UInt32))
    return pl.concat([type_rule, broken.join(type_rule, on=_ROW, how="anti")])


def text_failures(frame: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """`rule_failures` of a frame of raw text (a sample of drops, as `mlrig init` reads them)."""
    raw = frame.select([c for c in contract.columns if c in frame.columns]).with_row_index(_ROW)
    typed = raw.with_columns(cast_from_text(c) for c in contract.columns.values() if c.name in raw.columns)
    return rule_failures(raw, typed, contract)


def rule_counts(rules: pl.DataFrame) -> list[tuple[str, int]]:
    """(rule, rows) for every rule broken, the most frequent first."""
    counted = rules.select(pl.col(RULE).str.split("; ")).explode(RULE).group_by(RULE).agg(pl.len().alias("rows"))
    return [(rule, rows) for rule, rows in counted.sort(["rows", RULE], descending=[True, False]).iter_rows()]


def quarantine_rate_error(rules: pl.DataFrame, rows: int, limit: float, what: str) -> str | None:
    """The message when more than `limit` of `rows` would be quarantined, naming the rules that do it; else None."""
    if not rows or rules.height / rows <= limit:
        return None
    top = "; ".join(f"`{rule}` {count} rows" for rule, count in rule_counts(rules)[:5])
    return (
        f"{rules.height} of {rows} rows ({rules.height / rows:.1%}) of {what} break the contract, above the limit of "
        f"{limit:.0%} ([quality] max_quarantine_share). The rules that quarantine most: {top}. A rule broken by "
        "this many rows is usually the contract's error (a bound too tight, a value left out of `allowed`, a "
        "column that may be empty): fix it in the config, or fix the export."
    )


def partition_filter(partition: str | None, table_label: str, available: list[str]) -> str | None:
    """The Delta predicate for one `_ingest_date` partition (None: the whole table); refuses unknown partitions."""
    if partition is None:
        return None
    if not _PARTITION.fullmatch(partition):
        raise RefineError(f"partition {partition!r} is not a date: pass it as YYYY-MM-DD, e.g. 2026-11-01.")
    if partition not in available:
        raise RefineError(f"{table_label} has no partition {partition}; it has {sorted(available)}.")
    return f"{INGEST_DATE} = '{partition}'"


def partitions(scan: pl.LazyFrame) -> list[str]:
    return scan.select(pl.col(INGEST_DATE).unique()).collect()[INGEST_DATE].to_list()


def refine(
    lake: Lake,
    contract: Contract,
    pii_key: str,
    partition: str | None = None,
    progress: Callable[[str], None] | None = None,
    max_quarantine_share: float = 1.0,
) -> RefineResult:
    """Bronze (all of it, or one `_ingest_date` partition) → silver + quarantine, replacing what it covers.

    More quarantined rows than `max_quarantine_share` stops the run before anything is written (RefineError).
    """
    bronze = lake.table("bronze", contract.dataset)
    silver, quarantine = lake.table("silver", contract.dataset), lake.table("quarantine", contract.dataset)
    if not bronze.exists():
        raise RefineError(f"{bronze.label} does not exist yet: run `mlrig ingest` first.")
    run = Run(stage="refine", contract_hash=contract.fingerprint, inputs={bronze.label: bronze.version()})
    source = bronze.scan(run.inputs[bronze.label])
    where = partition_filter(partition, bronze.label, partitions(source))
    if partition:
        run.inputs["partition"] = partition
        source = source.filter(pl.col(INGEST_DATE) == partition)
    if is_up_to_date(lake, run):
        return RefineResult(run.run_id, up_to_date=True, silver_version=silver.version())

    # Only what silver or quarantine keeps is read; one full-width copy at a time keeps 1M rows under ~1.5 GiB.
    compared = [c for c in duplicate_columns(contract) if c not in silver_columns(contract)]  # whole-row PII
    kept = [*silver_columns(contract), *compared, SOURCE_FILE, SOURCE_LINE, INGESTED_AT, INGEST_DATE, RUN_ID]
    raw = source.select(kept).sort(INGESTED_AT, SOURCE_FILE, SOURCE_LINE).collect().with_row_index(_ROW)
    if progress:
        progress(f"read {raw.height} bronze rows" + (f" from partition {partition}" if partition else ""))
    typed = raw.with_columns(cast_from_text(c) for c in contract.columns.values() if c.name in raw.columns)
    rules = rule_failures(raw, typed, contract)
    too_many = quarantine_rate_error(rules, raw.height, max_quarantine_share, f"bronze/{contract.dataset}")
    if too_many:
        raise RefineError(f"{too_many} Nothing was written.")

    keys = typed.select(_ROW, *duplicate_columns(contract)).join(rules, on=_ROW, how="anti")
    firsts = keys.filter(pl.struct(duplicate_columns(contract)).is_first_distinct())[_ROW]
    silver_rows = treat_pii(typed.filter(pl.col(_ROW).is_in(firsts.implode())), contract, pii_key).select(
        *silver_columns(contract), SOURCE_FILE, SOURCE_LINE, INGESTED_AT, INGEST_DATE
    )
    del typed
    quarantined = (
        treat_pii(raw.join(rules, on=_ROW), contract, pii_key)
        .drop(_ROW, *compared, strict=False)
        .with_columns(pl.lit(run.run_id).alias(QUARANTINE_RUN))
    )
    valid = keys.height
    duplicates = valid - silver_rows.height
    if raw.height != silver_rows.height + quarantined.height + duplicates:
        raise RefineError(
            f"row accounting broke: bronze {raw.height} != silver {silver_rows.height} + "
            f"quarantine {quarantined.height} + duplicates {duplicates}. Nothing was written."
        )
    warnings = tuple(systematic_failures(quarantined, raw))
    if progress:
        for warning in warnings:
            progress(f"warning: {warning}")
    layout = {"mode": "overwrite", "partition_by": [INGEST_DATE], "replace_where": where}
    run.outputs[quarantine.label] = quarantine.write(quarantined, **layout)
    run.outputs[silver.label] = silver.write(silver_rows, **layout)
    run.counts = {
        "bronze": raw.height,
        "silver": silver_rows.height,
        "quarantined": quarantined.height,
        "duplicates": duplicates,
    }
    record(lake, run)
    if progress:
        progress(f"wrote {silver_rows.height} silver rows, {quarantined.height} quarantined, {duplicates} duplicates")
    return RefineResult(
        run.run_id,
        False,
        raw.height,
        silver_rows.height,
        quarantined.height,
        duplicates,
        run.outputs[silver.label],
        warnings,
    )
