"""Prometheus metrics of the prediction endpoints, every one labelled by model variant, served at /metrics.

BentoML serves /metrics from prometheus_client's multiprocess registry, whose directory a worker sets up
after importing the service: so the metrics are made on first use inside the worker, never at import.
Requests refused before a variant is chosen (401, 413, 400) carry variant="none".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

NO_VARIANT = "none"
# Latency buckets around what this service answers in (ms to a second); batch sizes up to serving.max_batch_rows.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 2000)


@dataclass(frozen=True)
class ServingMetrics:
    requests: Any
    latency: Any
    batch_size: Any
    errors: Any
    shadow: Any


@cache
def serving_metrics() -> ServingMetrics:
    import prometheus_client as prom  # deferred: see the module docstring

    return ServingMetrics(
        requests=prom.Counter("mlrig_requests", "Prediction requests answered", ["endpoint", "variant", "status"]),
        latency=prom.Histogram(
            "mlrig_request_latency_seconds",
            "Time to score a request, parsing to answer",
            ["endpoint", "variant"],
            buckets=LATENCY_BUCKETS_S,
        ),
        batch_size=prom.Histogram(
            "mlrig_batch_rows", "Rows scored per model call", ["endpoint", "variant"], buckets=BATCH_BUCKETS
        ),
        errors=prom.Counter("mlrig_errors", "Prediction requests refused or failed", ["endpoint", "variant", "status"]),
        shadow=prom.Counter("mlrig_shadow_predictions", "Rows scored by a shadow variant (not returned)", ["variant"]),
    )
