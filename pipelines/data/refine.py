"""Refine: bronze/<dataset> → silver/<dataset> (typed, valid, de-duplicated, PII treated) + quarantine/<dataset>.

Every bronze row ends in exactly one place, and the counts are checked before anything is written:
    bronze rows = silver rows + quarantined rows + duplicates removed.
A quarantined row keeps its raw text (PII treated) and the rules it broke, so it can be fixed and replayed.

Bounded memory: rows are split by a stable hash of the duplicate key into buckets of at most `BUCKET_ROWS`,
ranges of the key slot ingest stored and sorted bronze by (`keys.py`), read from bronze by that range (rows
without a current slot are spilled to local Parquet by bucket first), and each bucket is typed, checked,
de-duplicated and treated on its own. Two copies of one record always share a bucket, so
de-duplication within and across drops stays exact while peak memory follows the bucket size, not the table's.
The same hash splits the work across machines: `shard=Shard(i, n)` refines only the records of shard i of n
(one pod of a Kubernetes Indexed Job), and replaces only that shard's `_shard` partition of silver and
quarantine.

Runs are idempotent and crash-safe: silver's and quarantine's Parquet files are written bucket by bucket into
their tables' folders (invisible until committed), then each table is replaced (whole, or one shard) from the
same bronze version in one Delta commit, and the lineage row that marks the run done is written last. A run
killed before or between the two commits leaves no lineage row, and the next run redoes both writes from
bronze: nothing is lost or counted twice.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.config import Column, Contract
from pipelines.contract import cast_from_text, silver_columns
from pipelines.data.ingest import INGEST_DATE, INGESTED_AT, RUN_ID, SOURCE_FILE, SOURCE_LINE
from pipelines.data.keys import KEY_HASH, KEY_SLOT, bucket_of, duplicate_columns, key_hash, slot_of, slot_range
from pipelines.lake import Lake, PartitionFilters, Staged
from pipelines.lineage import Run, is_up_to_date, record
from pipelines.pii import treat_pii

RULE, QUARANTINE_RUN = "_rule", "_quarantine_run_id"
SHARD = "_shard"  # partition column of silver, quarantine and gold features: "<index>-of-<count>"
_ROW, _BUCKET = "__row", "__bucket"
_TYPED = "__typed_"
# Rows per bucket (at most): peak memory follows one bucket. 2^20 rows of the demo's width peaked at 0.9-1.1 GiB
# RSS (process included), the whole-frame polars query's size at 1M rows and well inside 2 GiB at any row
# count; smaller buckets cost a spill of bronze to local disk that larger ones avoid (docs/data.md).
BUCKET_ROWS = int(os.environ.get("MLRIG_BUCKET_ROWS", str(2**20)))
SYSTEMATIC_SHARE = 0.5  # a rule broken by most of a file's rows means a wrong export, not a few bad records


class RefineError(RuntimeError):
    """Refine cannot run (no bronze yet) or its row accounting does not add up."""


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`: the records whose duplicate-key hash is `index` modulo `count`."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise RefineError(f"shard {self.index} of {self.count} does not exist: use 0 ≤ index < count.")

    @property
    def label(self) -> str:
        return f"{self.index}-of-{self.count}"


def shard_labels(count: int) -> list[str]:
    return [Shard(i, count).label for i in range(count)]


def replace_filter(shard: Shard | None) -> PartitionFilters | None:
    """The partitions a shard's write replaces: its own and any left by another shard count (stale once the
    count changed), i.e. every partition but the other current shards'. None: the whole table."""
    others = [label for label in shard_labels(shard.count) if label != shard.label] if shard else []
    return [(SHARD, "not in", others)] if others else None


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


def _typed(column: Column) -> pl.Expr:
    return cast_from_text(column).alias(f"{_TYPED}{column.name}")


def _checks(column: Column) -> list[tuple[str, pl.Expr]]:
    """(rule, broken) per contract check of one typed column, named as pandera names them. Nulls are judged
    by `not_nullable` alone (and NaN counts as null there), as in the schema `mlrig init` shows."""
    value = pl.col(f"{_TYPED}{column.name}")
    checks = []
    if not column.nullable:
        missing = value.is_null() | value.is_nan() if column.dtype == "float" else value.is_null()
        checks.append(("not_nullable", missing))
    if column.min is not None:
        checks.append((f"greater_than_or_equal_to({column.min})", value.ge(column.min).not_()))
    if column.max is not None:
        checks.append((f"less_than_or_equal_to({column.max})", value.le(column.max).not_()))
    if column.allowed:
        checks.append((f"isin({list(column.allowed)})", value.is_in(list(column.allowed)).not_()))
    return checks


def rule_expr(contract: Contract, present: set[str]) -> pl.Expr:
    """Per row, the rules it breaks ('; '-joined), or null for a valid row; over raw text columns plus their
    `_typed` casts. A row whose text did not parse is reported by that alone, not also by the checks its null
    then fails. Columns dropped as PII are never checked (they never leave bronze)."""
    columns = [c for c in contract.columns.values() if c.name in present]
    unparsed = [
        pl.when(pl.col(c.name).is_not_null() & pl.col(f"{_TYPED}{c.name}").is_null()).then(
            pl.lit(f"{c.name}: not a valid {c.dtype}")
        )
        for c in columns
        if c.dtype not in ("string", "category")
    ]
    broken = sorted(
        (f"{c.name}: {name}", condition) for c in columns if c.pii != "drop" for name, condition in _checks(c)
    )
    checked = [pl.when(condition).then(pl.lit(name)) for name, condition in broken]

    def joined(parts: list[pl.Expr]) -> pl.Expr:
        text = pl.concat_str(parts, separator="; ", ignore_nulls=True) if parts else pl.lit(None, pl.String)
        return pl.when(text != "").then(text)

    return pl.coalesce(joined(unparsed), joined(checked), pl.lit(None, pl.String)).alias(RULE)


def text_failures(frame: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Per broken row (by `__row`), the rules it breaks, for a frame of raw text (a sample of drops, as `mlrig
    init` reads them): the rules refine applies, so a proposal is judged by them."""
    raw = frame.select([c for c in contract.columns if c in frame.columns]).with_row_index(_ROW)
    present = set(raw.columns)
    typed = raw.with_columns(_typed(c) for c in contract.columns.values() if c.name in present)
    return typed.select(_ROW, rule_expr(contract, present)).filter(pl.col(RULE).is_not_null())


def rule_counts(rules: pl.DataFrame) -> list[tuple[str, int]]:
    """(rule, rows) for every rule broken, the most frequent first; `rules` has one row per broken row, or a
    `rows` column counting the rows that broke each combination."""
    weight = pl.col("rows") if "rows" in rules.columns else pl.lit(1)
    counted = (
        rules.select(pl.col(RULE).str.split("; "), weight.alias("rows"))
        .explode(RULE)
        .group_by(RULE)
        .agg(pl.col("rows").sum())
    )
    return [(rule, rows) for rule, rows in counted.sort(["rows", RULE], descending=[True, False]).iter_rows()]


def quarantine_rate_error(rules: pl.DataFrame, rows: int, limit: float, what: str) -> str | None:
    """The message when more than `limit` of `rows` would be quarantined, naming the rules that do it; else None."""
    broken = int(rules["rows"].sum()) if "rows" in rules.columns else rules.height
    if not rows or broken / rows <= limit:
        return None
    counts = rule_counts(rules)[:5]
    top = "; ".join(f"`{rule}` {count} rows" for rule, count in counts)
    return (
        f"{broken} of {rows} rows ({broken / rows:.1%}) of {what} break the contract, above the limit of "
        f"{limit:.0%} ([quality] max_quarantine_share). The rules that quarantine most: {top}. A rule broken by "
        "this many rows is usually the contract's error (a bound too tight, a value left out of `allowed`, a "
        f"column that may be empty): fix it in the config, or fix the export.{_datetime_advice(r for r, _ in counts)}"
    )


def _datetime_advice(rules) -> str:
    """When dates do not parse, what the contract needs: they are read as ISO 8601 unless it names a format."""
    if not any(rule.endswith(": not a valid datetime") for rule in rules):
        return ""
    return (
        " A datetime column's text is read as ISO 8601 (2026-11-01T02:00:28) unless its column sets `format` in "
        'the contract, e.g. format = "%d/%m/%Y"; `mlrig init --from <folder>` proposes it from a sample.'
    )


def systematic_failures(file_rules: pl.DataFrame, file_rows: pl.DataFrame) -> list[str]:
    """Per file, rules that most of its rows break (e.g. a whole column of the wrong type), as advice to act on.

    `file_rules`: (file, rule combination, rows) of quarantined rows; `file_rows`: (file, total) of all rows."""
    broken = (
        file_rules.select(SOURCE_FILE, pl.col(RULE).str.split("; "), "rows")
        .explode(RULE)
        .group_by(SOURCE_FILE, RULE)
        .agg(pl.col("rows").sum())
        .join(file_rows, on=SOURCE_FILE)
        .filter(pl.col("rows") >= SYSTEMATIC_SHARE * pl.col("total"))
        .sort(SOURCE_FILE, RULE)
    )
    return [
        f"{file}: {rows} of {total} rows break `{rule}`. The column is wrong as a whole (shifted columns, a changed "
        f"export or type); fix the export and drop it again under a new name, or update the contract."
        f"{_datetime_advice([rule])}"
        for file, rule, rows, total in broken.iter_rows()
    ]


@dataclass
class _Tally:
    """What the buckets found, summed: enough to check the accounting and judge the run before writing."""

    bronze: int = 0
    valid: int = 0
    silver: int = 0
    quarantined: int = 0
    file_rows: pl.DataFrame | None = None
    file_rules: pl.DataFrame | None = None

    def add(self, checked: pl.DataFrame, bad: pl.DataFrame) -> None:
        """`checked`: (file, valid) of every row; `bad`: (file, rule) of the quarantined ones."""
        self.bronze += checked.height
        self.quarantined += bad.height
        self.valid += checked.height - bad.height
        rows = checked.group_by(SOURCE_FILE).agg(pl.len().cast(pl.Int64).alias("total"))
        rules = bad.group_by(SOURCE_FILE, RULE).agg(pl.len().cast(pl.Int64).alias("rows"))
        self.file_rows = rows if self.file_rows is None else pl.concat([self.file_rows, rows])
        self.file_rules = rules if self.file_rules is None else pl.concat([self.file_rules, rules])

    @property
    def duplicates(self) -> int:
        return self.valid - self.silver

    def per_file(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        rows = self.file_rows.group_by(SOURCE_FILE).agg(pl.col("total").sum())
        return self.file_rules.group_by(SOURCE_FILE, RULE).agg(pl.col("rows").sum()), rows


@dataclass(frozen=True)
class _Plan:
    """What one run reads and writes, derived once from the contract."""

    contract: Contract
    pii_key: str
    run_id: str

    @property
    def compared(self) -> list[str]:  # whole-row dedupe compares PII columns that silver never keeps
        return [c for c in duplicate_columns(self.contract) if c not in silver_columns(self.contract)]

    @property
    def read(self) -> list[str]:
        """Only what silver or quarantine keeps (and the comparison needs): PII marked drop stays in bronze."""
        kept = [*silver_columns(self.contract), *self.compared]
        return [*kept, SOURCE_FILE, SOURCE_LINE, INGESTED_AT, INGEST_DATE, RUN_ID]

    def bucket(self, raw: pl.LazyFrame, tally: _Tally) -> tuple[pl.LazyFrame, pl.DataFrame]:
        """(silver rows, quarantined rows) of one bucket; every copy of a record is in the same bucket. Silver's
        rows are left lazy (over the bucket in memory), so the writer streams them without gathering them.

        Why it is shaped so: gathering rows of a wide frame is what costs, so validity and "first copy" are
        computed as narrow masks and each output gathers its own columns once; rule texts are built for the
        broken rows only."""
        contract = self.contract
        present = set(self.read)
        typed = [c for c in contract.columns.values() if c.name in present]
        keys = [f"{_TYPED}{c}" for c in duplicate_columns(contract)]
        # text columns typed are their raw text trimmed: recomputed where needed rather than held twice
        texts = [c for c in typed if c.dtype in ("string", "category") and f"{_TYPED}{c.name}" not in keys]
        frame = (
            raw.with_columns(_typed(c) for c in typed)
            .with_columns(_valid_expr(contract, present))
            .drop(f"{_TYPED}{c.name}" for c in texts)
            .collect(engine="streaming")  # the in-memory engine held 2-3x the frame while parsing
        )
        broken = frame.lazy().filter(pl.col(_VALID).not_()).with_columns(_typed(c) for c in texts)
        quarantined = treat_pii(
            broken.with_columns(rule_expr(contract, present)).select(
                *(c for c in self.read if c not in self.compared), RULE, SHARD
            ),
            contract,
            self.pii_key,
        ).with_columns(pl.lit(self.run_id).alias(QUARANTINE_RUN))
        quarantined = quarantined.collect()
        tally.add(frame.select(SOURCE_FILE, _VALID), quarantined.select(SOURCE_FILE, RULE))
        # the other raw text is needed no more: let it go before silver's rows are gathered
        text_names = [c.name for c in texts]
        out = {c.name: cast_from_text(c) for c in texts}
        out |= {c: pl.col(f"{_TYPED}{c}").alias(c) for c in silver_columns(contract) if c not in out}
        typed_out = [f"{_TYPED}{c}" for c in silver_columns(contract) if c not in text_names]
        frame = frame.select(*dict.fromkeys([*keys, *typed_out, *text_names]), *_ORDER, INGEST_DATE, SHARD, _VALID)
        first = _first_copies(frame, keys)
        silver_columns_out = [
            *(out[c] for c in silver_columns(contract)),
            SOURCE_FILE,
            SOURCE_LINE,
            INGESTED_AT,
            INGEST_DATE,
            SHARD,
        ]
        return treat_pii(frame.lazy().filter(first).select(silver_columns_out), contract, self.pii_key), quarantined


_VALID = "__valid"
_SPILL_GROUP = 16_384
_ORDER = (INGESTED_AT, SOURCE_FILE, SOURCE_LINE)  # the order records were received in


def _valid_expr(contract: Contract, present: set[str]) -> pl.Expr:
    """True for a row that breaks no rule: the cheap boolean form of `rule_expr` (same rules)."""
    columns = [c for c in contract.columns.values() if c.name in present]
    parsed = [
        pl.col(c.name).is_null() | pl.col(f"{_TYPED}{c.name}").is_not_null()
        for c in columns
        if c.dtype not in ("string", "category")
    ]
    kept = [condition.not_() for c in columns if c.pii != "drop" for _, condition in _checks(c)]
    return pl.all_horizontal([*parsed, *kept, pl.lit(True)]).fill_null(True).alias(_VALID)


def _first_copies(frame: pl.DataFrame, keys: list[str]) -> pl.Series:
    """Per row: valid and the first copy received of its record (by the duplicate key).

    Why it is shaped so: comparing whole keys of every row held a bucket's size again in memory. A valid row
    whose key hash no other valid row shares is a first copy for sure; only the rows that share a hash (the
    copies, and any hash collision) are compared by their keys, in the order received, so the answer is exact."""
    valid = pl.col(_VALID)
    shared = valid & pl.when(valid).then(pl.struct(keys).hash()).is_duplicated()
    masks = frame.select(valid.alias(_VALID), shared.alias("__shared"))
    candidates = (
        frame.select(*_ORDER, *keys)
        .with_row_index(_ROW)
        .filter(masks["__shared"])
        .sort(_ORDER)
        .filter(pl.struct(keys).is_first_distinct())[_ROW]
    )
    row = pl.int_range(pl.len(), dtype=pl.UInt32)
    unique = pl.col(_VALID) & pl.col("__shared").not_()
    return masks.select(unique | row.is_in(candidates.implode())).to_series()


def _spill(source: pl.LazyFrame, folder: Path, buckets: int) -> dict[int, list[pl.LazyFrame]]:
    """Split `source` by `_BUCKET` into Parquet under `folder` with polars' partitioned streaming sink: per bucket
    that got rows, its scan. Small row groups, so each open bucket file buffers little. (Our own writers fed a row
    group at a time held less at 20M rows, 1.4 against 2.1 GiB, but cost 4 s more at 1M: docs/data.md.)"""
    target = pl.PartitionBy(folder, key=_BUCKET, include_key=False)
    # no column statistics: spill files are read whole, never filtered (writing them cost ~8 % of the spill)
    source.sink_parquet(target, mkdir=True, compression="lz4", row_group_size=_SPILL_GROUP, statistics=False)
    scans = {}
    for number in range(buckets):
        files = sorted(folder.glob(f"{_BUCKET}={number}/*.parquet"))
        if files:
            scans[number] = [pl.scan_parquet(files)]
    return scans


def refine(
    lake: Lake,
    contract: Contract,
    pii_key: str,
    shard: Shard | None = None,
    progress: Callable[[str], None] | None = None,
    max_quarantine_share: float = 1.0,
    shards: int = 1,
) -> RefineResult:
    """Bronze (all of it, or one shard) → silver + quarantine, replacing what it covers.

    Without `shard`, every record is refined and labelled with its shard of `shards`, so later sharded runs of
    that count replace exactly their own rows. More quarantined rows than `max_quarantine_share` stops the run
    before anything is written (RefineError).
    """
    bronze = lake.table("bronze", contract.dataset)
    silver = lake.table("silver", contract.dataset)
    if not bronze.exists():
        raise RefineError(f"{bronze.label} does not exist yet: run `mlrig ingest` first.")
    count = shard.count if shard else shards
    run = Run(stage="refine", contract_hash=contract.fingerprint, inputs={bronze.label: bronze.version()})
    run.inputs["shard"] = shard.label if shard else f"all-of-{count}"
    if is_up_to_date(lake, run):
        return RefineResult(run.run_id, up_to_date=True, silver_version=silver.version())
    plan = _Plan(contract, pii_key, run.run_id)
    rows_in = bronze.scan(run.inputs[bronze.label])
    buckets = max(1, math.ceil(rows_in.select(pl.len()).collect().item() / count / BUCKET_ROWS))
    with tempfile.TemporaryDirectory(prefix="mlrig-refine-") as tmp:
        parts = _Split(plan, shard, count, progress or (lambda _: None)).buckets(rows_in, buckets, Path(tmp))
        return _Stream(plan, parts, shard, count, progress, max_quarantine_share).commit(lake, run)


@dataclass(frozen=True)
class _Split:
    """How one run splits bronze: into shards (the key hash's low bits) and buckets (ranges of its key slot)."""

    plan: _Plan
    shard: Shard | None
    count: int
    progress: Callable[[str], None]

    def buckets(self, bronze: pl.LazyFrame, buckets: int, folder: Path) -> list[pl.LazyFrame]:
        """Per bucket, its rows of this run's shard, labelled with their `_shard`.

        Rows with a current stored slot are read from bronze by slot range (ingest sorted them, so whole row
        groups are skipped); the others are spilled to local Parquet by bucket first."""
        read = self.plan.read
        if buckets == 1:  # it all fits in one bucket: read bronze directly
            return [self._sharded(bronze.select(read))]
        stored, unsorted = self._layout(bronze)
        spilled = {}
        if unsorted is not None:
            hashed = self._keep(unsorted.with_columns(key_hash(self.plan.contract)))
            bucket = bucket_of(slot_of(pl.col(KEY_HASH)), buckets).alias(_BUCKET)
            spilled = _spill(hashed.with_columns(bucket).select(*read, _BUCKET), folder, buckets)
        parts = []
        for number in range(buckets):
            low, high = slot_range(number, buckets)
            pieces = list(spilled.get(number, []))
            if stored is not None:
                pieces.append(stored.filter(pl.col(KEY_SLOT).is_between(low, high, closed="left")).select(read))
            if pieces:
                parts.append(self._sharded(pl.concat(pieces)))
        return parts or [self._sharded(bronze.select(read).limit(0))]  # a shard with no rows: its empty schema

    def _layout(self, bronze: pl.LazyFrame) -> tuple[pl.LazyFrame | None, pl.LazyFrame | None]:
        """(rows to read by their stored slot, rows to spill). Bronze ingested before slots were stored has none;
        a slot stored under another duplicate key (the contract's key changed since) is stale, and then no stored
        slot is trusted. Checked on every row, so a bucket never misses a copy."""
        if KEY_SLOT not in bronze.collect_schema().names():
            self.progress("bronze has no key slots (ingested by an older mlrig): splitting it through local disk")
            return None, bronze
        current = slot_of(key_hash(self.plan.contract))
        missing, stale = (
            bronze.select(pl.col(KEY_SLOT).null_count().alias("missing"), (pl.col(KEY_SLOT) != current).sum())
            .collect(engine="streaming")
            .row(0)
        )
        if stale:
            self.progress(f"{stale} bronze rows have key slots of another duplicate key: splitting through local disk")
            return None, bronze
        if missing:
            self.progress(f"{missing} bronze rows without key slots (older drops): splitting them through local disk")
        return bronze, bronze.filter(pl.col(KEY_SLOT).is_null()) if missing else None

    def _keep(self, hashed: pl.LazyFrame) -> pl.LazyFrame:
        """Only this run's shard, when it refines one."""
        if self.shard and self.count > 1:
            return hashed.filter(pl.col(KEY_HASH) % self.count == self.shard.index)
        return hashed

    def _sharded(self, rows: pl.LazyFrame) -> pl.LazyFrame:
        """This run's shard of `rows`, each labelled with its `_shard` partition."""
        if self.count == 1:
            return rows.with_columns(pl.lit(Shard(0, 1).label).alias(SHARD))
        if self.shard:
            label = pl.lit(self.shard.label)
        else:
            number = (pl.col(KEY_HASH) % self.count).cast(pl.UInt32)
            label = number.replace_strict(range(self.count), shard_labels(self.count), return_dtype=pl.String)
        hashed = self._keep(rows.with_columns(key_hash(self.plan.contract)))
        return hashed.with_columns(label.alias(SHARD)).drop(KEY_HASH)


class _Stream:
    """Silver and quarantine files written bucket by bucket into their tables' folders, then committed.

    The accounting and the quarantine rate are checked after the last bucket and before either commit: a failed
    check deletes the written files and raises RefineError, so nothing is committed. A lost commit race retries
    the commit with the same files."""

    def __init__(
        self,
        plan: _Plan,
        parts: list[pl.LazyFrame],
        shard: Shard | None,
        count: int,
        progress: Callable[[str], None] | None,
        max_quarantine_share: float,
    ) -> None:
        self.plan, self.parts, self.shard, self.count = plan, parts, shard, count
        self.progress, self.max_quarantine_share = progress or (lambda _: None), max_quarantine_share
        self.tally = _Tally()
        self.warnings: tuple[str, ...] = ()

    def write(self, silver: Staged, quarantine: Staged) -> None:
        labels = [self.shard.label] if self.shard else shard_labels(self.count)
        for number, part in enumerate(self.parts):
            silver_rows, quarantined = self.plan.bucket(part, self.tally)
            for label in labels:
                rows = silver_rows.filter(pl.col(SHARD) == label) if len(labels) > 1 else silver_rows
                silver.write(rows, {SHARD: label})
            self.tally.silver = silver.rows
            quarantine.add(quarantined)
            if len(self.parts) > 1:
                self.progress(f"bucket {number + 1} of {len(self.parts)}: {self.tally.bronze} bronze rows so far")

    def check(self) -> None:
        """Refuse (RefineError) a run whose accounting does not add up or that quarantines too much."""
        tally, contract = self.tally, self.plan.contract
        scope = f" of shard {self.shard.label}" if self.shard else ""
        self.progress(f"read {tally.bronze} bronze rows{scope}")
        file_rules, file_rows = tally.per_file()
        rules = file_rules.select(RULE, "rows")
        too_many = quarantine_rate_error(rules, tally.bronze, self.max_quarantine_share, f"bronze/{contract.dataset}")
        if too_many:
            raise RefineError(f"{too_many} Nothing was written.")
        if tally.bronze != tally.silver + tally.quarantined + tally.duplicates:
            raise RefineError(
                f"row accounting broke: bronze {tally.bronze} != silver {tally.silver} + "
                f"quarantine {tally.quarantined} + duplicates {tally.duplicates}. Nothing was written."
            )
        self.warnings = tuple(systematic_failures(file_rules, file_rows))
        for warning in self.warnings:
            self.progress(f"warning: {warning}")

    def commit(self, lake: Lake, run: Run) -> RefineResult:
        """Silver, then quarantine, then the lineage row that marks the run done."""
        contract = self.plan.contract
        silver, quarantine = lake.table("silver", contract.dataset), lake.table("quarantine", contract.dataset)
        silver_rows, quarantined = self.plan.bucket(self.parts[0].limit(0), _Tally())
        silver_schema, quarantine_schema = silver_rows.collect_schema(), quarantined.schema
        staged = silver.stage(silver_schema, [SHARD]), quarantine.stage(quarantine_schema, [SHARD])
        try:
            self.write(*staged)
            self.check()
        except BaseException:
            for files in staged:
                files.discard()
            raise
        where = replace_filter(self.shard)
        run.outputs[silver.label] = silver.replace(staged[0], where)
        run.outputs[quarantine.label] = quarantine.replace(staged[1], where)
        tally = self.tally
        run.counts = {
            "bronze": tally.bronze,
            "silver": tally.silver,
            "quarantined": tally.quarantined,
            "duplicates": tally.duplicates,
        }
        record(lake, run)
        self.progress(
            f"wrote {tally.silver} silver rows, {tally.quarantined} quarantined, {tally.duplicates} duplicates"
        )
        return RefineResult(
            run.run_id,
            False,
            tally.bronze,
            tally.silver,
            tally.quarantined,
            tally.duplicates,
            run.outputs[silver.label],
            self.warnings,
        )
