"""Proposes a data contract from a sample: each column's type, nullability, range, allowed values and role,
the task (a numeric target with many values is a regression, anything else a binary classification), the target
and its positive class, an entity key and an event time, and what to do with PII.

It proposes; a person reviews (the terminal summary and the commented config) before anything runs. Every
choice carries a note saying why, so the review is reading, not guessing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from pipelines.contract import parse_datetime
from pipelines.onboard.pii_scan import PiiFinding, scan_column

MAX_CATEGORIES = 100  # more distinct values than this is free text or an identifier (US states + typos fit)
CATEGORY_SHARE = 0.05  # …or more distinct values than 5 % of the rows
RANGE_MARGIN = 1.0  # bounds widened by the bulk's own span: room for tomorrow's tail, none for typos
PARSE_SHARE = 0.98  # a type is taken when this share of non-empty values parses as it
RARE_SHARE = 0.005  # a category value rarer than this that is a variant of a common one is taken for a typo
BOUND_QUANTILES = (0.01, 0.99)  # bounds from the bulk of the data, so a few typos do not set them
OUTLIER_GAP = 10.0  # a top value ≥ 10× the next is an error (a unit slip, extra zeros, a 99999 sentinel)
OUTLIER_SHARE = 0.01  # …when such values are rare: a real heavy tail is not a few isolated points
OUTLIER_MIN_VALUES = 100  # …and the column has enough positive values to tell a tail from a slip
REGRESSION_MIN_DISTINCT = 20  # a numeric target with at least this many values is a quantity, not a class code
TARGET_NOISE_SHARE = 0.05  # values beyond the two main target classes, up to this share, are dirt
PLACEHOLDERS = {"n/a", "na", "#n/a", "null", "none", "nan", "?", "-", "--", "unknown", "invalid", "tbd", "#value!"}
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
    format: str | None = None  # datetime text that is not ISO 8601
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
        if self.format is not None:
            spec["format"] = self.format
        return spec


@dataclass
class ProposedContract:
    dataset: str
    target: str
    positive_class: str | None  # regression: none
    entity_key: str | None
    event_time: str | None
    columns: list[ProposedColumn]
    rows_sampled: int
    segment_by: list[str] = field(default_factory=list)  # [business] and model.slices
    value_column: str | None = None  # [business]: what one record is worth per period
    duplicate_key: list[str] = field(default_factory=list)  # empty: the whole row
    positive_rate: float = 0.5  # of the sample's two classes: sets the trivial baselines the gate must beat
    task: str = "binary"


def _parses(values: pl.Series, dtype: pl.DataType) -> float:
    return values.cast(dtype, strict=False).is_not_null().mean() if values.len() else 0.0


# Datetime texts that are not ISO 8601, as exports write them; tried in order when ISO does not parse. Day-first
# comes before month-first: where both parse every value (no day above 12), the proposal says so.
_DATES = ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d", "%d/%m/%y", "%m/%d/%y")
_WITH_OFFSET = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z")  # an offset, or Z: read as UTC
DATETIME_FORMATS = (*(f"{date}{time}" for date in _DATES for time in ("", " %H:%M", " %H:%M:%S")), *_WITH_OFFSET)


@dataclass(frozen=True)
class DatetimeReading:
    share: float  # of the values that parse
    format: str | None = None  # None: ISO 8601
    also: str | None = None  # another format that parses them all as well (day and month both ≤ 12)


def _parsed_share(values: pl.Series, text_format: str | None) -> float:
    frame = values.alias("v").to_frame()
    return frame.select(parse_datetime(pl.col("v"), text_format).is_not_null().mean()).item()


def read_datetimes(values: pl.Series) -> DatetimeReading:
    """How a column's texts read as datetimes: ISO 8601 when that parses them, else the listed format that parses
    the most, so refine reads every row the same way (pipelines/contract.py)."""
    if not values.len():
        return DatetimeReading(0.0)
    iso = _parsed_share(values, None)
    if iso >= PARSE_SHARE:
        return DatetimeReading(iso)
    shares = [(_parsed_share(values, f), f) for f in DATETIME_FORMATS]
    best = max(share for share, _ in shares)
    if best <= iso:
        return DatetimeReading(iso)
    winners = [f for share, f in shares if share == best]
    return DatetimeReading(best, winners[0], winners[1] if len(winners) > 1 else None)


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
    column = ProposedColumn(name, "string", nullable=null_share > 0)
    if null_share:  # a model takes missing values in its stride; the target and the key never (see below)
        column.notes.append(f"{null_share:.1%} empty: nullable")
    # PII before anything else: a column of unique phone numbers is personal data, not an identifier
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
    elif distinct and (dates := read_datetimes(present)).share >= PARSE_SHARE:
        column.dtype, column.role, column.format = "datetime", "attribute", dates.format
        if dates.format:
            column.notes.append(f"dates written as {present[0]!r}: format {dates.format!r}")
        if dates.also:
            column.notes.append(
                f"{dates.format!r} and {dates.also!r} both read every sampled value (no day above 12): check "
                "which one the export writes"
            )
    elif distinct and distinct <= max(2, min(MAX_CATEGORIES, CATEGORY_SHARE * rows)):
        column.dtype = "category"
        column.allowed, left_out = _allowed_values(present)
        if left_out and not column.pii:  # a PII column's values are never written into the config
            column.notes.append(
                f"left out as typos or placeholders: {left_out} (rows holding them will be quarantined; add "
                "them to `allowed` if they are real)"
            )
    else:
        column.role = "attribute"
        column.notes.append(f"{distinct} distinct texts: kept, not a model feature")
    unique_per_row = distinct >= ID_UNIQUE_SHARE * present.len() and present.len() > 1
    if column.dtype in ("int", "string") and unique_per_row and not column.pii:
        column.role, column.min, column.max = "id", None, None
        column.notes = [n for n in column.notes if "distinct texts" not in n] + [
            "unique per row and no PII found in its values: an identifier"
        ]
    if name == entity_key and column.pii is None:
        column.pii = PiiFinding(
            name, "entity_key", "the entity key ties rows to one customer or person", None, "pseudonymize"
        )
    if column.pii:
        column.role = "id" if name == entity_key else "attribute"
        column.dtype, column.allowed, column.min, column.max = "string", None, None, None
        column.notes = [n for n in column.notes if "typos" not in n]
        column.notes.append(f"PII → {column.pii.treatment}: {column.pii.reason}")
    return column


def _is_variant(value: str, common: str) -> bool:
    """A typo of `common`: the same up to case and spaces, or (for values long enough that one letter does not
    make another word, such as two-letter codes) one letter dropped, doubled, swapped or changed."""
    a, b = value.strip().casefold(), common.strip().casefold()
    if a == b:
        return True
    if min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _allowed_values(present: pl.Series) -> tuple[list[str], list[str]]:
    """(allowed, left out): every value seen, except placeholders for "unknown" and rare variants of a common
    value. A rare value that is no variant of another is kept: a small state or a new product is real."""
    counts = present.value_counts(sort=True, normalize=True, name="share")
    common = [v for v, share in counts.iter_rows() if share >= RARE_SHARE]
    left_out = [
        v
        for v, share in counts.iter_rows()
        if v.strip().casefold() in PLACEHOLDERS
        or (share < RARE_SHARE and any(_is_variant(v, c) for c in common if c != v))
        or v != v.strip()
    ]
    return sorted(set(counts[present.name].to_list()) - set(left_out)), sorted(left_out)


def _bounds(column: ProposedColumn, numbers: pl.Series) -> None:
    """Bounds that hold every real value and none of the usual errors.

    Non-negative data keeps a floor of 0, so a sign slip is caught. The ceiling is the bulk's span (1st–99th
    percentile) widened by that span, or twice the largest value that is not an isolated outlier, whichever is
    higher: a heavy real tail (incomes, balances) stays in, while a value 10× beyond the rest of the column (a
    unit slip, extra zeros, a 99999 sentinel), rare by definition, stays out. A note says what lies outside.
    """
    low, high = (numbers.quantile(q, interpolation="nearest") for q in BOUND_QUANTILES)
    lo, hi = _widen(low, high, integer=column.dtype == "int")
    top = _largest_regular(numbers)
    ceiling = max(hi, 2 * top) if top > 0 else hi
    column.min = lo
    column.max = math.ceil(ceiling) if column.dtype == "int" else round(ceiling, 4)
    outside = numbers.filter((numbers < column.min) | (numbers > column.max))
    if outside.len():
        column.notes.append(
            f"{outside.len()} value(s) outside [{column.min:g}, {column.max:g}] (e.g. "
            f"{outside.abs().max():g}) will be quarantined: check they are errors"
        )


def _largest_regular(numbers: pl.Series) -> float:
    """The largest value that is not an isolated outlier: scanning the top values downwards, everything above a
    jump of OUTLIER_GAP× is cut off, provided that is at most OUTLIER_SHARE of the values."""
    positive = numbers.filter(numbers > 0).sort(descending=True)
    if positive.len() == 0:
        return 0.0
    if positive.len() < OUTLIER_MIN_VALUES:  # a sparse tail (a few late payments) has real 10× jumps
        return float(positive[0])
    limit = max(1, int(OUTLIER_SHARE * numbers.len()))
    top = positive.head(limit + 1).to_list()
    for index in range(min(limit, len(top) - 1), 0, -1):
        if top[index - 1] >= OUTLIER_GAP * top[index]:
            return float(top[index])
    return float(top[0])


def _positive_class(values: list[str]) -> tuple[str, str]:
    for token in POSITIVE_TOKENS:
        for value in values:
            if value.lower() == token:
                return value, f"{value!r} reads as the positive outcome"
    return values[-1], f"{values[-1]!r} is the rarer class"


ID_NAMES = ("id", "_id", "_no", "_nr", "_num", "_number", "_key", "nummer")


def _entity_key(sample: pl.DataFrame, target: str) -> str | None:
    """An id-like column whose values repeat little: rows of one entity must stay on one side of the split. A
    column whose values are personal data (a phone number, an e-mail) is not proposed."""
    candidates = [
        c
        for c in sample.columns
        if c != target
        and c.lower().endswith(ID_NAMES)
        and sample[c].null_count() == 0
        and scan_column(c, sample[c].head(2000).to_list()) is None
    ]
    scored = [(sample[c].n_unique() / sample.height, c) for c in candidates]
    good = [c for share, c in sorted(scored, reverse=True) if share >= 0.5]
    return good[0] if good else None


def _event_time(columns: list[ProposedColumn]) -> str | None:
    times = [c.name for c in columns if c.dtype == "datetime" and not c.pii]  # a birth date is no event time
    hinted = [n for n in times if any(h in n.lower() for h in TIME_HINTS)]
    return (hinted or times or [None])[0]


def propose_task(values: pl.Series) -> tuple[str, str]:
    """(task, why): regression for a numeric target with many distinct values (a price, a demand, days to an
    event), binary classification otherwise (two classes, perhaps coded 0/1)."""
    present = values.drop_nulls().str.strip_chars()
    present = present.filter(present != "")
    numbers = present.cast(pl.Float64, strict=False).drop_nulls()
    distinct = numbers.n_unique()
    if present.len() and numbers.len() / present.len() >= PARSE_SHARE and distinct >= REGRESSION_MIN_DISTINCT:
        return "regression", f"numeric with {distinct} distinct values: a quantity to predict (regression)"
    return "binary", "two classes to tell apart (binary classification)"


def infer_contract(
    sample: pl.DataFrame,
    target: str,
    dataset: str,
    entity_key: str | None = None,
    positive_class: str | None = None,
    task: str | None = None,
) -> ProposedContract:
    """The contract for `sample`; `task` (binary or regression) is proposed from the target unless given."""
    if sample.height == 0:
        raise InferenceError("the sample has no rows: point init at files with data")
    if target not in sample.columns:
        raise InferenceError(f"target column {target!r} is not in the sample; its columns are {sample.columns}")
    if task is None:
        task, why = propose_task(sample[target].cast(pl.String))
    else:
        why = "as asked (--task)"
    if task == "regression":
        if positive_class is not None:
            raise InferenceError("a regression target has no positive class: drop --positive-class")
        return _regression_contract(sample, target, dataset, entity_key, why)
    classes, noise = _target_classes(sample[target], target)
    entity_key = entity_key or _entity_key(sample, target)
    columns = [infer_column(name, sample[name], sample.height, entity_key) for name in sample.columns]
    by_name = {c.name: c for c in columns}
    label = by_name[target]
    label.dtype, label.role, label.min, label.max, label.pii = "category", "target", None, None, None
    empty = [n for n in label.notes if n.endswith("empty: nullable")]
    label.notes = [n.replace("nullable", "those rows are quarantined (no outcome to learn)") for n in empty] + noise
    label.allowed, label.nullable = sorted(str(c) for c in classes), False
    if positive_class is None:
        positive_class, why = _positive_class(classes)
        label.notes.append(f"positive class {why}")
    counts = sample[target].value_counts()
    positive_rate = counts.filter(pl.col(target) == positive_class)["count"].sum() / max(
        counts.filter(pl.col(target).is_in(classes))["count"].sum(), 1
    )
    return _proposal(sample, dataset, target, entity_key, columns, positive_class=positive_class,
                     positive_rate=positive_rate)  # fmt: skip


def _proposal(
    sample: pl.DataFrame,
    dataset: str,
    target: str,
    entity_key: str | None,
    columns: list[ProposedColumn],
    **by_task: Any,
) -> ProposedContract:
    """What every task's proposal shares: the key and event time take their roles, segments, value column and
    duplicate key are read off the columns; `by_task` holds the task's own fields."""
    by_name = {c.name: c for c in columns}
    if entity_key:
        key = by_name[entity_key]
        key.role, key.min, key.max, key.nullable = "id", None, None, False
    event_time = _event_time(columns)
    if event_time:
        by_name[event_time].role = "timestamp"
        by_name[event_time].nullable = False
    return ProposedContract(
        dataset,
        target,
        by_task.pop("positive_class", None),
        entity_key,
        event_time,
        columns,
        sample.height,
        _segments(columns),
        _value_column(columns),
        _duplicate_key(sample, entity_key, event_time),
        **by_task,
    )


def _regression_contract(
    sample: pl.DataFrame, target: str, dataset: str, entity_key: str | None, why: str
) -> ProposedContract:
    """A numeric target: typed and bounded like any number (values outside the bounds, or not numbers, are
    quarantined: a row without a real outcome teaches nothing), never null."""
    entity_key = entity_key or _entity_key(sample, target)
    columns = [infer_column(name, sample[name], sample.height, entity_key) for name in sample.columns]
    by_name = {c.name: c for c in columns}
    label = by_name[target]
    if label.dtype not in ("int", "float"):
        raise InferenceError(f"target {target!r} is not numeric in the sample: regression needs numbers")
    label.role, label.pii, label.allowed, label.nullable = "target", None, None, False
    label.notes = [n.replace("nullable", "those rows are quarantined (no outcome to learn)") for n in label.notes]
    label.notes.append(f"task: {why}")
    return _proposal(sample, dataset, target, entity_key, columns, task="regression")


def _target_classes(values: pl.Series, target: str) -> tuple[list[str], list[str]]:
    """The two classes to learn (the most frequent first) and notes on the values left out as dirt.

    Real exports carry a few stray target values (`N0`, `t`, `INVALID`): when the two main classes hold all but
    TARGET_NOISE_SHARE of the rows, the rest are named and refine quarantines their rows.
    """
    counts = values.drop_nulls().str.strip_chars().value_counts(sort=True)
    counts = counts.filter(pl.col(target) != "")
    classes = counts[target].to_list()
    if len(classes) < 2:
        raise InferenceError(
            f"target {target!r} has {len(classes)} class(es) {classes} in the sample; a classifier "
            "needs two. Sample more data, or pick another target."
        )
    rest = counts["count"][2:].sum() / counts["count"].sum()
    if rest > TARGET_NOISE_SHARE:
        shown = ", ".join(f"{c!r}" for c in classes[:8])
        raise InferenceError(
            f"target {target!r} has {len(classes)} classes ({shown}…) and beyond the two most frequent "
            f"{rest:.1%} of rows; mlrig trains binary classifiers. Map it to two classes before init (e.g. "
            "churned vs not)."
        )
    noise = []
    if len(classes) > 2:
        noise.append(
            f"{counts['count'][2:].sum()} rows hold other values {classes[2:12]} ({rest:.2%}): taken for errors, "
            "quarantined"
        )
    return classes[:2], noise


def _duplicate_key(sample: pl.DataFrame, entity_key: str | None, event_time: str | None) -> list[str]:
    """What makes a row a duplicate: the key (and event time) when each identifies one record, else the whole row
    (empty), since snapshots without a key repeat only by being exported twice."""
    if entity_key and event_time:
        return [entity_key, event_time]
    records = sample.unique()
    if entity_key and records[entity_key].n_unique() == records.height:
        return [entity_key]
    return []


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
