"""Proposes a data contract from a sample: each column's type, nullability, range, allowed values and role,
the target and its positive class, an entity key and an event time, and what to do with PII.

It proposes; a person reviews (the terminal summary and the commented config) before anything runs. Every
choice carries a note saying why, so the review is reading, not guessing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import polars as pl

from pipelines.onboard.pii_scan import PiiFinding, scan_column

MAX_CATEGORIES = 50  # more distinct values than this is free text or an identifier, not a category
CATEGORY_SHARE = 0.05  # …or more distinct values than 5 % of the rows
RANGE_MARGIN = 1.0  # bounds widened by the bulk's own span: room for tomorrow's tail, none for typos
PARSE_SHARE = 0.98  # a type is taken when this share of non-empty values parses as it
RARE_SHARE = 0.005  # categories and empties rarer than this are taken for dirt: quarantined, and said so
NULLABLE_SHARE = 0.01
BOUND_QUANTILES = (0.01, 0.99)  # bounds from the bulk of the data, so a few typos do not set them
ID_UNIQUE_SHARE = 0.95
BOOL_TOKENS = {"true", "false", "yes", "no", "y", "n", "t", "f"}
POSITIVE_TOKENS = ("1", "true", "yes", "y", "t", "churned", "fraud", "default", "positive", "bad")
VALUE_HINTS = ("amount", "charge", "revenue", "price", "value", "balance", "spend", "income", "fee")
TIME_HINTS = ("snapshot", "event", "created", "updated", "timestamp", "date", "time", "_at", "day")


class InferenceError(ValueError):
    """The sample cannot yield a contract (no such target, one class only); the message says what to do."""


@dataclass
class ProposedColumn:
    name: str
    dtype: str
    role: str = "feature"
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: list[str] | None = None
    pii: PiiFinding | None = None
    notes: list[str] = field(default_factory=list)

    def as_config(self) -> dict:
        spec: dict = {"dtype": self.dtype, "role": self.role}
        if self.pii:
            spec["pii"] = self.pii.treatment
        if self.nullable:
            spec["nullable"] = True
        if self.min is not None:
            spec["min"] = self.min
        if self.max is not None:
            spec["max"] = self.max
        if self.allowed is not None:
            spec["allowed"] = self.allowed
        return spec


@dataclass
class ProposedContract:
    dataset: str
    target: str
    positive_class: str
    entity_key: str | None
    event_time: str | None
    columns: list[ProposedColumn]
    rows_sampled: int
    segment_by: list[str] = field(default_factory=list)  # [business] and model.slices
    value_column: str | None = None  # [business]: what one record is worth per period


def _parses(values: pl.Series, dtype: pl.DataType) -> float:
    return values.cast(dtype, strict=False).is_not_null().mean() if values.len() else 0.0


def _datetime_share(values: pl.Series) -> float:
    try:
        return values.str.to_datetime(strict=False, time_unit="us").is_not_null().mean() if values.len() else 0.0
    except pl.exceptions.ComputeError:  # polars found no date format in the first values: not dates
        return 0.0


def _widen(low: float, high: float, integer: bool) -> tuple[float, float]:
    span = (high - low) or abs(high) or 1.0
    lo, hi = low - RANGE_MARGIN * span, high + RANGE_MARGIN * span
    if low >= 0:
        lo = max(lo, 0.0)  # a non-negative quantity stays non-negative
    return (math.floor(lo), math.ceil(hi)) if integer else (round(lo, 4), round(hi, 4))


def infer_column(name: str, values: pl.Series, rows: int, entity_key: str | None) -> ProposedColumn:
    present = values.drop_nulls().str.strip_chars()
    present = present.filter(present != "")
    null_share = 1 - present.len() / max(rows, 1)
    distinct = present.n_unique()
    column = ProposedColumn(name, "string", nullable=null_share >= NULLABLE_SHARE)
    if null_share >= NULLABLE_SHARE:
        column.notes.append(f"{null_share:.1%} empty: nullable")
    elif null_share:
        column.notes.append(f"{null_share:.2%} empty: taken for errors, those rows will be quarantined")
    column.pii = scan_column(name, present.head(2000).to_list(), join_key=name == entity_key)
    lowered = set(present.str.to_lowercase().unique().to_list())
    if distinct and lowered <= BOOL_TOKENS | {"0", "1"} and len(lowered) == 2 and not lowered <= {"0", "1"}:
        column.dtype, column.allowed = "category", sorted(present.unique().to_list())
        column.notes.append("two values: a yes/no flag, kept as a category")
    elif distinct and _parses(present, pl.Int64) >= PARSE_SHARE:
        column.dtype = "int"
        _bounds(column, present.cast(pl.Int64, strict=False).drop_nulls())
    elif distinct and _parses(present, pl.Float64) >= PARSE_SHARE:
        column.dtype = "float"
        _bounds(column, present.cast(pl.Float64, strict=False).drop_nulls())
    elif distinct and _datetime_share(present) >= PARSE_SHARE:
        column.dtype, column.role = "datetime", "attribute"
    elif distinct and distinct <= max(2, min(MAX_CATEGORIES, CATEGORY_SHARE * rows)):
        column.dtype = "category"
        shares = present.value_counts(normalize=True, name="share")
        rare = shares.filter(pl.col("share") < RARE_SHARE)[name].to_list()
        column.allowed = sorted(shares.filter(pl.col("share") >= RARE_SHARE)[name].to_list())
        if rare:
            column.notes.append(
                f"rare values {sorted(rare)} left out (each < {RARE_SHARE:.1%}): they will be "
                "quarantined; add them to `allowed` if they are real"
            )
    else:
        column.role = "attribute"
        column.notes.append(f"{distinct} distinct texts: kept, not a model feature")
    unique_per_row = distinct >= ID_UNIQUE_SHARE * present.len() and present.len() > 1
    if column.dtype in ("int", "string") and unique_per_row and not column.pii:
        column.role, column.min, column.max = "id", None, None
        column.notes = [n for n in column.notes if "distinct texts" not in n] + ["unique per row: an identifier"]
    if name == entity_key and column.pii is None:
        column.pii = PiiFinding(
            name, "entity_key", "the entity key ties rows to one customer or person", None, "pseudonymize"
        )
    if column.pii:
        column.role = "id" if name == entity_key else "attribute"
        column.notes.append(f"PII → {column.pii.treatment}: {column.pii.reason}")
    return column


def _bounds(column: ProposedColumn, numbers: pl.Series) -> None:
    """Bounds from the bulk of the values, widened by a margin; a note says what lies outside them."""
    low, high = (numbers.quantile(q, interpolation="nearest") for q in BOUND_QUANTILES)
    column.min, column.max = _widen(low, high, integer=column.dtype == "int")
    outside = numbers.filter((numbers < column.min) | (numbers > column.max))
    if outside.len():
        column.notes.append(
            f"{outside.len()} value(s) outside [{column.min:g}, {column.max:g}] (e.g. "
            f"{outside.max():g}) will be quarantined: check they are errors"
        )


def _positive_class(values: list[str]) -> tuple[str, str]:
    for token in POSITIVE_TOKENS:
        for value in values:
            if value.lower() == token:
                return value, f"{value!r} reads as the positive outcome"
    return values[-1], f"{values[-1]!r} is the rarer class"


def _entity_key(sample: pl.DataFrame, target: str) -> str | None:
    """An id-like column whose values repeat little: rows of one entity must stay on one side of the split."""
    candidates = [c for c in sample.columns if c != target and (c.lower() == "id" or c.lower().endswith(("_id", "id")))]
    scored = [(sample[c].n_unique() / sample.height, c) for c in candidates if sample[c].null_count() == 0]
    good = [c for share, c in sorted(scored, reverse=True) if share >= 0.5]
    return good[0] if good else None


def _event_time(columns: list[ProposedColumn]) -> str | None:
    times = [c.name for c in columns if c.dtype == "datetime"]
    hinted = [n for n in times if any(h in n.lower() for h in TIME_HINTS)]
    return (hinted or times or [None])[0]


def infer_contract(
    sample: pl.DataFrame, target: str, dataset: str, entity_key: str | None = None, positive_class: str | None = None
) -> ProposedContract:
    if sample.height == 0:
        raise InferenceError("the sample has no rows: point init at files with data")
    if target not in sample.columns:
        raise InferenceError(f"target column {target!r} is not in the sample; its columns are {sample.columns}")
    classes = sample[target].drop_nulls().value_counts(sort=True)[target].to_list()
    if len(classes) < 2:
        raise InferenceError(
            f"target {target!r} has {len(classes)} class(es) {classes} in the sample; a classifier "
            "needs two. Sample more data, or pick another target."
        )
    if len(classes) > 2:
        raise InferenceError(
            f"target {target!r} has {len(classes)} classes; mlrig trains binary classifiers. "
            "Map it to two classes before init (e.g. churned vs not)."
        )
    entity_key = entity_key or _entity_key(sample, target)
    columns = [infer_column(name, sample[name], sample.height, entity_key) for name in sample.columns]
    by_name = {c.name: c for c in columns}
    label = by_name[target]
    label.dtype, label.role, label.min, label.max, label.pii = "category", "target", None, None, None
    label.allowed = sorted(str(c) for c in classes)
    if positive_class is None:
        positive_class, why = _positive_class(sorted(classes, key=lambda c: classes.index(c)))
        label.notes.append(f"positive class {why}")
    if entity_key:
        by_name[entity_key].role = "id"
        by_name[entity_key].min = by_name[entity_key].max = None
    event_time = _event_time(columns)
    if event_time:
        by_name[event_time].role = "timestamp"
    return ProposedContract(
        dataset,
        target,
        positive_class,
        entity_key,
        event_time,
        columns,
        sample.height,
        _segments(columns),
        _value_column(columns),
    )


def _segments(columns: list[ProposedColumn]) -> list[str]:
    """The two categorical features with the fewest levels: the first cut people ask for, and the slices the
    gate compares."""
    categorical = [c for c in columns if c.role == "feature" and c.dtype == "category" and len(c.allowed or []) > 1]
    return [c.name for c in sorted(categorical, key=lambda c: len(c.allowed or []))[:2]]


def _value_column(columns: list[ProposedColumn]) -> str | None:
    money = [
        c.name
        for c in columns
        if c.role == "feature" and c.dtype == "float" and any(hint in c.name.lower() for hint in VALUE_HINTS)
    ]
    return money[0] if money else None
