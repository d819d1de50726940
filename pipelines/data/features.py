"""Features: silver/<dataset> → gold/<dataset>_features (model-ready) and gold/<dataset>_by_segment (business view).

The feature table carries the contract's features as typed, the entity key and event time for leak-free
splits, and the target as 0/1. Feature engineering that the service must repeat lives in the model's own
preprocessing (pipelines/ml/model.py), not here, so training and serving cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.config import Contract
from pipelines.lake import Lake
from pipelines.lineage import Run, is_up_to_date, record

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
    label = (pl.col(contract.target) == contract.positive_class).cast(pl.Int8).alias(LABEL)
    return silver.select(contract.entity_key, contract.event_time, *contract.feature_names, label)


def build_segments(silver: pl.LazyFrame, contract: Contract) -> pl.LazyFrame:
    """Churn and revenue at risk by country and plan: what the retention team asks first."""
    churned = pl.col(contract.target) == contract.positive_class
    return (
        silver.group_by("country", "plan")
        .agg(
            pl.len().alias("customers"),
            churned.mean().alias("churn_rate"),
            pl.col("monthly_charges").sum().alias("monthly_revenue"),
            pl.col("monthly_charges").filter(churned).sum().alias("monthly_revenue_lost"),
        )
        .sort("country", "plan")
    )


def build_gold(lake: Lake, contract: Contract) -> FeaturesResult:
    silver = lake.table("silver", contract.dataset)
    if not silver.exists():
        raise FeaturesError(f"{silver.label} does not exist yet: run `mlrig refine` first.")
    run = Run(stage="features", contract_hash=contract.fingerprint, inputs={silver.label: silver.version()})
    features = lake.table("gold", features_table_name(contract))
    segments = lake.table("gold", f"{contract.dataset}_by_segment")
    if is_up_to_date(lake, run):
        return FeaturesResult(
            run.run_id, True, features_version=features.version(), segments_version=segments.version()
        )
    source = silver.scan(run.inputs[silver.label])
    feature_rows = build_features(source, contract).collect()
    run.outputs[features.label] = features.write(feature_rows, mode="overwrite")
    run.outputs[segments.label] = segments.write(build_segments(source, contract).collect(), mode="overwrite")
    run.counts = {"features": feature_rows.height}
    record(lake, run)
    return FeaturesResult(
        run.run_id, False, feature_rows.height, run.outputs[features.label], run.outputs[segments.label]
    )
