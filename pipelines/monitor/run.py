"""Monitor: predictions/<dataset> (+ monitoring/<dataset>_labels) → drift, performance, a retrain decision.

Reads the window of served (not shadow) predictions, the training reference the serving model learned from
(the gold table and version in its metadata), and whatever labels have come back. Writes one row per feature
to monitoring/<dataset>_drift (the history the dashboard plots), the joined outcomes to
monitoring/<dataset>_outcomes, the drift report, the dashboard and the Prometheus textfile.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.config import Config
from pipelines.lake import Lake, TableRef
from pipelines.lineage import Run, record
from pipelines.monitor.dashboard import DashboardInputs, render_dashboard
from pipelines.monitor.drift import DriftReport, detect_drift
from pipelines.monitor.metrics import drift_registry, publish
from pipelines.monitor.outcomes import (
    LABEL,
    LOGGED_AT,
    RECORDED_AT,
    REQUEST_KEY,
    VARIANT,
    VariantVerdict,
    compare_variants,
    join_outcomes,
    performance_by_window,
)
from pipelines.monitor.report import render_report
from pipelines.monitor.trigger import RetrainDecision, decide_for_task
from pipelines.tasks import task_of
from pipelines.tasks.regression import residual_drift


class MonitorError(RuntimeError):
    """Nothing to monitor yet (no model, no predictions); the message says what to run first."""


@dataclass(frozen=True)
class MonitorResult:
    drift: DriftReport
    decision: RetrainDecision
    verdict: VariantVerdict | None
    outcomes: int
    report: Path
    dashboard: Path
    metrics: Path
    performance: pl.DataFrame | None = None  # the task's metrics per window on late outcomes
    residual_ks: float | None = None  # regression: late residuals vs the test residuals


def _model_reference(config: Config, model_tag: str) -> tuple[pl.DataFrame, dict, str]:
    """The features the model learned from (its gold table at the recorded version) and its metadata (test metrics,
    residuals)."""
    import bentoml

    try:
        model = bentoml.models.get(model_tag)
    except bentoml.exceptions.NotFound as err:  # a first run anywhere: nothing trained, nothing promoted
        raise MonitorError(
            f"no model {model_tag} in the store or named by the champion pointer: train and gate one first "
            "(`mlrig retrain --force`)"
        ) from err
    metadata = model.info.metadata
    layer, name = metadata["gold_table"].split("/", 1)
    reference = Lake(config.lake_url).table(layer, name).read(int(metadata["gold_version"]))
    return reference.select(config.contract.feature_names), dict(metadata), str(model.tag)


def labels_table(config: Config) -> TableRef:
    """Where late outcomes land (`monitoring/<dataset>_labels`), keyed like the prediction log."""
    return Lake(config.lake_url).table("monitoring", f"{config.contract.dataset}_labels")


def record_outcomes(config: Config, labels: pl.DataFrame) -> int:
    """Append late outcomes (request_key + label) to the labels table, each stamped with when it was recorded (a
    later correction of the same request wins the join by it); return how many."""
    stamped = labels.with_columns(pl.lit(dt.datetime.now(dt.UTC)).alias(RECORDED_AT))
    labels_table(config).write(stamped, mode="append", add_columns=True)  # tables from before the stamp
    return labels.height


def served_window(config: Config, hours: float | None) -> pl.DataFrame:
    table = Lake(config.lake_url).table("predictions", config.contract.dataset)
    if not table.exists():
        raise MonitorError(f"{table.label} does not exist yet: serve the model and send it traffic first.")
    window = table.scan().filter(~pl.col("shadow"))
    if hours is not None:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
        window = window.filter(pl.col(LOGGED_AT) >= since)
    return window.collect().with_columns(pl.col(LOGGED_AT).dt.replace_time_zone(None))


def _outcomes(config: Config, window: pl.DataFrame) -> pl.DataFrame | None:
    labels = labels_table(config)
    if not labels.exists() or REQUEST_KEY not in window.columns:
        return None
    return join_outcomes(window, labels.read(), task_of(config).score_column)


def _drift_rows(drift: DriftReport, run_at: dt.datetime, model: str) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "run_at": run_at,
                "model": model,
                "feature": f.feature,
                "psi": f.statistics["psi"],
                "drifted": f.drifted and drift.enough_data,
                "statistics": json.dumps(f.statistics),
            }
            for f in drift.features
        ]
    )


def monitor(config: Config, model_tag: str, hours: float | None = None) -> MonitorResult:
    lake, dataset, settings = Lake(config.lake_url), config.contract.dataset, config.monitoring
    task = task_of(config)
    reference, metadata, model = _model_reference(config, model_tag)
    window = served_window(config, hours)
    run = Run(
        stage="monitor",
        contract_hash=config.contract.fingerprint,
        inputs={"model": model, "predictions": lake.table("predictions", dataset).version()},
    )
    drift = detect_drift(reference, window, config.contract, settings)
    joined = _outcomes(config, window)
    served = joined is not None and joined.height
    positive = config.contract.positive_class
    performance = performance_by_window(joined, positive_class=positive, task=task) if served else None
    verdict = None
    if joined is not None and VARIANT in joined.columns and joined[VARIANT].n_unique() == 2:
        verdict = compare_variants(joined, settings.significance, task.score_column)
    residuals, residual_ks = None, None
    reference_residuals = ((metadata.get("curves") or {}).get("residuals") or {}).get("quantiles")
    if served and task.name == "regression":  # residual drift: late errors against the model's test errors
        residuals = (joined[LABEL] - joined[task.score_column]).drop_nulls().to_numpy()
        residual_ks = residual_drift(residuals, reference_residuals) if reference_residuals else None
    decision = decide_for_task(drift, performance, config, task, metadata, residuals)

    run_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    history = lake.table("monitoring", f"{dataset}_drift")
    if drift.features:
        run.outputs[history.label] = history.write(_drift_rows(drift, run_at, model), mode="append")
    if joined is not None:
        outcomes = lake.table("monitoring", f"{dataset}_outcomes")
        run.outputs[outcomes.label] = outcomes.write(joined, mode="overwrite")
    stamp = run_at.strftime("%Y%m%dT%H%M%S")
    out = config.reports_dir / "monitoring"
    report = render_report(
        drift,
        reference,
        window,
        config.contract,
        decision,
        performance,
        verdict,
        out / f"drift-{stamp}.html",
        f"{config.project.name}: drift and performance, {stamp}",
        residual_ks,
    )
    dashboard = render_dashboard(
        DashboardInputs(
            window.select(
                *{
                    VARIANT,
                    task.score_column,
                    LOGGED_AT,
                    "latency_ms",
                    *(c for c in window.columns if c == config.business.value_column),
                }
            ),
            history.read() if history.exists() else _drift_rows(drift, run_at, model),
            performance,
            joined,
            config.business.value_column,
            config.business.value_periods,
            config.contract.positive_class,
            task.name,
        ),
        f"{config.project.name} monitoring",
        out / "dashboard.html",
    )
    metrics = out / "drift.prom"
    publish(drift_registry(drift, decision, config.model.name), metrics)
    run.counts = {
        "window": window.height,
        "outcomes": 0 if joined is None else joined.height,
        "drifted": len(drift.drifted),
        "retrain": int(decision.retrain),
    }
    record(lake, run)
    return MonitorResult(
        drift, decision, verdict, run.counts["outcomes"], report, dashboard, metrics, performance, residual_ks
    )
