"""Drift scores and the latest verdict as Prometheus metrics, so alerting rules can act on them.

Written in the text exposition format to a file (node-exporter's textfile collector picks it up), and pushed
to a Pushgateway when $MLRIG_PUSHGATEWAY_URL names one (the in-cluster CronJob's way).
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from pipelines.monitor.drift import DriftReport
from pipelines.monitor.trigger import RetrainDecision

PUSHGATEWAY_ENV = "MLRIG_PUSHGATEWAY_URL"
JOB = "mlrig_monitor"


def drift_registry(drift: DriftReport, decision: RetrainDecision, model: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    statistic = Gauge(
        "mlrig_drift_statistic",
        "Drift statistic of a feature against the training reference",
        ["model", "feature", "statistic"],
        registry=registry,
    )
    drifted = Gauge(
        "mlrig_feature_drifted",
        "1 when the feature passed one of its drift limits",
        ["model", "feature"],
        registry=registry,
    )
    for feature in drift.features:
        for name, value in feature.statistics.items():
            statistic.labels(model, feature.feature, name).set(value)
        drifted.labels(model, feature.feature).set(int(feature.drifted and drift.enough_data))
    Gauge("mlrig_drift_window_rows", "Served records in the monitored window", ["model"], registry=registry).labels(
        model
    ).set(drift.window_rows)
    Gauge(
        "mlrig_retrain_needed", "1 when the latest monitoring run asked for retraining", ["model"], registry=registry
    ).labels(model).set(int(decision.retrain))
    return registry


def publish(registry: CollectorRegistry, textfile: Path) -> str | None:
    """Write the textfile (atomically, by prometheus_client) and push if a gateway is configured."""
    textfile.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(textfile), registry)
    gateway = os.environ.get(PUSHGATEWAY_ENV)
    if gateway:
        push_to_gateway(gateway, job=JOB, registry=registry)
    return gateway
