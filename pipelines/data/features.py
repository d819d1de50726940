"""Features: silver/<dataset> → gold/<dataset>_features (model-ready) and gold/<dataset>_by_segment (business view).

The feature table carries the contract's features as typed, the entity key and event time for leak-free
splits, and the target as the task's label (pipelines/tasks/: 0/1 for binary, the number for regression).
Feature engineering that the service must repeat lives in the model's own
preprocessing (pipelines/ml/model.py), not here, so training and serving cannot disagree.

With `partition`, only that `_ingest_date` partition of the feature table is replaced (one pod of an Indexed
Job each); the segment aggregate spans all partitions, so it is rebuilt by a run without `partition`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from pipelines.config import BusinessSettings, Contract
from pipelines.data.ingest import INGEST_DATE, INGESTED_AT
from pipelines.data.refine import RefineError, partition_filter, partitions
from pipelines.lake import Lake
from pipelines.lineage import Run, is_up_to_date, record
from pipelines.tasks import get_task

LABEL = "label"


class FeaturesError(RuntimeError):
    """Gold cannot be built (no silver yet)."""


@dataclass(frozen=True)
class FeaturesResult:
    run_id: str
    up_to_date: bool
    rows: int = 0
    features_version: int | None = None
    segments_version: int | None = None


def features_table_name(contract: Contract) -> str:
    return f"{contract.dataset}_features"


def build_features(silver: pl.LazyFrame, contract: Contract) -> pl.LazyFrame:
    """Features, the task's label, and what splits need: the entity key (if any) and a time, the event time or,
    for snapshots without one, the ingest time standing in."""
    label = get_task(contract.task).label(contract).alias(LABEL)
    key = [contract.entity_key] if contract.entity_key else []
    time = contract.event_time or INGESTED_AT
    return silver.select(*key, time, *contract.feature_names, label, INGEST_DATE)


def build_segments(silver: pl.LazyFrame, contract: Contract, business: BusinessSettings) -> pl.LazyFrame:
    """The outcome rate and value by the segments in [business]: what the business asks first (for the demo,
    churn and revenue lost by country and plan). A regression target gives its mean per segment instead."""
    value = business.value_column
    if contract.task != "binary":
        outcome = pl.col(contract.target).cast(pl.Float64)
        aggregates = [pl.len().alias("records"), outcome.mean().alias(f"{contract.target}_mean")]
        if value:
            aggregates.append(pl.col(value).sum().alias(f"{value}_total"))
        positive = None
    else:
        positive = pl.col(contract.target) == contract.positive_class
        aggregates = [pl.len().alias("records"), positive.mean().alias("positive_rate")]
    if value and positive is not None:
        aggregates += [
            pl.col(value).sum().alias(f"{value}_total"),
            pl.col(value).filter(positive).sum().alias(f"{value}_positive"),
        ]
    if not business.segment_by:
        return silver.select(aggregates)
    # Delta refuses two columns whose names differ only in case: a segment column called `Records` (a credit
    # export's flag) must not meet the `records` count
    taken = {name.lower() for name in business.segment_by}
    aggregates = [a.name.prefix("segment_") if a.meta.output_name().lower() in taken else a for a in aggregates]
    return silver.group_by(*business.segment_by).agg(aggregates).sort(*business.segment_by)


def build_gold(
    lake: Lake,
    contract: Contract,
    partition: str | None = None,
    progress: Callable[[str], None] | None = None,
    business: BusinessSettings | None = None,
) -> FeaturesResult:
    silver = lake.table("silver", contract.dataset)
    if not silver.exists():
        raise FeaturesError(f"{silver.label} does not exist yet: run `mlrig refine` first.")
    run = Run(stage="features", contract_hash=contract.fingerprint, inputs={silver.label: silver.version()})
    features = lake.table("gold", features_table_name(contract))
    segments = lake.table("gold", f"{contract.dataset}_by_segment")
    source = silver.scan(run.inputs[silver.label])
    try:
        where = partition_filter(partition, silver.label, partitions(source))
    except RefineError as err:
        raise FeaturesError(str(err)) from err
    if partition:
        run.inputs["partition"] = partition
    if is_up_to_date(lake, run):
        return FeaturesResult(
            run.run_id, True, features_version=features.version(), segments_version=segments.version()
        )
    scope = source.filter(pl.col(INGEST_DATE) == partition) if partition else source
    feature_rows = build_features(scope, contract).collect()
    if progress:
        progress(f"read {feature_rows.height} silver rows" + (f" from partition {partition}" if partition else ""))
    run.outputs[features.label] = features.write(
        feature_rows, mode="overwrite", partition_by=[INGEST_DATE], replace_where=where
    )
    if partition is None:
        by_segment = build_segments(source, contract, business or BusinessSettings()).collect()
        run.outputs[segments.label] = segments.write(by_segment, mode="overwrite")
    run.counts = {"features": feature_rows.height}
    record(lake, run)
    if progress:
        progress(f"wrote {feature_rows.height} gold feature rows")
    return FeaturesResult(
        run.run_id, False, feature_rows.height, run.outputs[features.label], run.outputs.get(segments.label)
    )
