"""Features: silver/<dataset> → gold/<dataset>_features (model-ready) and gold/<dataset>_by_segment (business view).

The feature table carries the contract's features as typed, the entity key and event time for leak-free
splits, and the target as the task's label (pipelines/tasks/: 0/1 for binary, the number for regression).
Feature engineering that the service must repeat lives in the model's own
preprocessing (pipelines/ml/model.py), not here, so training and serving cannot disagree.

Bounded memory: the features are a projection of silver, made file by file (one silver file in memory at a
time; refine writes them a bucket at most) into gold files committed together; the segment aggregate is a
streaming group-by. With `shard`, only that shard's `_shard`
partition is read and replaced (one pod of a Kubernetes Indexed Job each); the segment aggregate spans all
shards, so it is rebuilt by a run without `shard`, or by shard 0 once every shard's silver is current.

`if_ready` makes the stage wait its turn: it builds nothing unless lineage shows refine has already read
bronze's latest version for the rows it covers, so a late ingest or a slow refine never lets gold be built on
stale silver (the cluster's CronJobs run on clocks; this is what orders them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from pipelines.config import BusinessSettings, Contract
from pipelines.data.ingest import INGEST_DATE, INGESTED_AT
from pipelines.data.refine import SHARD, Shard, replace_filter, shard_labels
from pipelines.lake import Lake
from pipelines.lake_files import storage_options
from pipelines.lineage import LINEAGE_TABLE, Run, is_up_to_date, record
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
    waiting: str | None = None  # with if_ready: why nothing was built (silver older than bronze)


def features_table_name(contract: Contract) -> str:
    return f"{contract.dataset}_features"


def build_features(silver: pl.LazyFrame, contract: Contract) -> pl.LazyFrame:
    """Features, the task's label, and what splits need: the entity key (if any) and a time, the event time or,
    for snapshots without one, the ingest time standing in."""
    label = get_task(contract.task).label(contract).alias(LABEL)
    key = [contract.entity_key] if contract.entity_key else []
    time = contract.event_time or INGESTED_AT
    return silver.select(*key, time, *contract.feature_names, label, INGEST_DATE, SHARD)


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


def refined_shards(lake: Lake, contract: Contract) -> set[str]:
    """The shards (labels, or `all-of-N`) a successful refine has built from bronze's current version."""
    bronze, runs = lake.table("bronze", contract.dataset), lake.table("lineage", LINEAGE_TABLE)
    if not bronze.exists() or not runs.exists():
        return set()
    current = bronze.version()
    refined = runs.scan().filter((pl.col("stage") == "refine") & (pl.col("status") == "succeeded"))
    inputs = [json.loads(text) for text in refined.select("inputs").collect()["inputs"]]
    return {i.get("shard", "all-of-1") for i in inputs if i.get(bronze.label) == current}


def stale_silver(lake: Lake, contract: Contract, shard: Shard | None) -> str | None:
    """Why silver is not ready for `shard` (None: all of it), or None when it is built from bronze's latest."""
    done = refined_shards(lake, contract)
    if shard is not None and (shard.label in done or f"all-of-{shard.count}" in done):
        return None
    counts = {int(label.rsplit("-", 1)[1]) for label in done}
    if shard is None and (
        any(x.startswith("all-of-") for x in done) or any(set(shard_labels(n)) <= done for n in counts)
    ):
        return None
    what = f"shard {shard.label} of silver" if shard else "silver"
    return f"{what} is not yet refined from bronze's latest version: run `mlrig refine` first."


def build_gold(
    lake: Lake,
    contract: Contract,
    shard: Shard | None = None,
    progress: Callable[[str], None] | None = None,
    business: BusinessSettings | None = None,
    if_ready: bool = False,
) -> FeaturesResult:
    silver = lake.table("silver", contract.dataset)
    if not silver.exists():
        raise FeaturesError(f"{silver.label} does not exist yet: run `mlrig refine` first.")
    run = Run(stage="features", contract_hash=contract.fingerprint, inputs={silver.label: silver.version()})
    run.inputs["shard"] = shard.label if shard else "all"
    features = lake.table("gold", features_table_name(contract))
    segments = lake.table("gold", f"{contract.dataset}_by_segment")
    if if_ready and (waiting := stale_silver(lake, contract, shard)):
        return FeaturesResult(run.run_id, False, waiting=waiting)
    if is_up_to_date(lake, run):
        return FeaturesResult(
            run.run_id, True, features_version=features.version(), segments_version=segments.version()
        )
    source = silver.scan(run.inputs[silver.label])
    gold = features.stage(build_features(source, contract).collect_schema(), [SHARD])
    for uri, partition in silver.files(run.inputs[silver.label]):
        if shard is None or partition.get(SHARD) == shard.label:
            rows = pl.scan_parquet(uri, storage_options=storage_options(uri)).with_columns(
                pl.lit(partition.get(SHARD), pl.String).alias(SHARD)
            )
            gold.write(build_features(rows, contract), {SHARD: partition.get(SHARD)})
    if progress:
        progress(f"read {gold.rows} silver rows" + (f" of shard {shard.label}" if shard else ""))
    run.outputs[features.label] = features.replace(gold, replace_filter(shard))
    if shard is None or (shard.index == 0 and stale_silver(lake, contract, None) is None):
        settings = business or BusinessSettings()
        by_segment = build_segments(source, contract, settings).collect(engine="streaming")
        run.outputs[segments.label] = segments.write(by_segment, mode="overwrite")
    run.counts = {"features": gold.rows}
    record(lake, run)
    if progress:
        progress(f"wrote {gold.rows} gold feature rows")
    return FeaturesResult(run.run_id, False, gold.rows, run.outputs[features.label], run.outputs.get(segments.label))
