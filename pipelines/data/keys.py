"""Record keys: what makes two rows the same record, and where a record's rows are stored and refined together.

A stable hash of the duplicate key (xxhash64: the same in every process and release, unlike polars' own hash)
decides a record's shard (`hash % count`, low bits) and its key slot (the top 16 bits). Ingest stores the slot
in bronze (`_key_slot`) and writes each drop sorted by it, in small row groups; refine's bucket is a range of
slots, so it reads a bucket's rows straight from bronze, skipping the row groups outside the range by their
statistics, instead of first spilling bronze to disk to split it (docs/data.md: the spill was a quarter of a
20M-row run). Copies of one record share their slot, so they always meet in one bucket.
"""

from __future__ import annotations

import math

import polars as pl
import polars_hash as plh

from pipelines.config import Contract
from pipelines.contract import cast_from_text

KEY_SLOT = "_key_slot"  # bronze column: the key hash's top 16 bits, stored by ingest
KEY_HASH = "__key_hash"  # never stored: it is unkeyed
SLOTS = 2**16


def duplicate_columns(contract: Contract) -> list[str]:
    """What makes two rows the same record: the contract's duplicate_key, or else every column (the same record
    exported twice). The whole-row comparison includes the PII columns, read here and never written."""
    return list(contract.duplicate_key) or list(contract.columns)


def key_hash(contract: Contract) -> pl.Expr:
    """The 64-bit hash of a row's duplicate key, computed from bronze's text as refine compares keys.

    Copies of one record agree on every key column, so hashing some of them is enough to put them together:
    the text columns when the key has any (parsing dates is what costs)."""
    key = [contract.columns[c] for c in duplicate_columns(contract)]
    text = [c for c in key if c.dtype in ("string", "category")] or key
    parts = [cast_from_text(c).cast(pl.String).fill_null("\x00") for c in text]
    return plh.concat_str(parts, separator="\x1f").nchash.xxhash64().alias(KEY_HASH)


def slot_of(hashed: pl.Expr) -> pl.Expr:
    """A hash's slot, 0 ≤ slot < SLOTS: its top bits, independent of the low bits that pick the shard."""
    return (hashed // (2**64 // SLOTS)).cast(pl.Int32)


def key_slot(contract: Contract) -> pl.Expr:
    return slot_of(key_hash(contract)).alias(KEY_SLOT)


def bucket_of(slot: pl.Expr, buckets: int) -> pl.Expr:
    """The bucket (of `buckets`) a slot belongs to: consecutive slots share one, so a bucket is a slot range."""
    return (slot.cast(pl.Int64) * buckets // SLOTS).cast(pl.UInt32)


def slot_range(bucket: int, buckets: int) -> tuple[int, int]:
    """[low, high): the slots of `bucket`, exactly those `bucket_of` puts there."""
    return math.ceil(bucket * SLOTS / buckets), math.ceil((bucket + 1) * SLOTS / buckets)
