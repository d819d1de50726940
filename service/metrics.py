"""Prometheus metrics of the prediction endpoints, every one labelled by model variant, served at /metrics.

BentoML serves /metrics from prometheus_client's multiprocess registry, whose directory a worker sets up
after importing the service: so the metrics are made on first use inside the worker, never at import.
Requests refused before a variant is chosen (401, 413, 400) carry variant="none". Labelled children are
looked up once and kept: `labels()` costs more than the increment it leads to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

NO_VARIANT = "none"
# Latency buckets around what this service answers in (ms to a second); batch sizes up to serving.max_batch_rows.
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 2000)


@dataclass(frozen=True)
class ServingMetrics:
    requests: Any
    latency: Any
    batch_size: Any
    errors: Any
    shadow: Any
    _children: dict[tuple, Any] = field(default_factory=dict, repr=False, compare=False)

    def count(self, endpoint: str, variant: str, status: int, elapsed_s: float) -> None:
        """One answer of a prediction endpoint: counted, timed, and counted again as an error when it is one."""
        children = self._children.get((endpoint, variant, status))
        if children is None:
            code = str(status)
            children = (
                self.requests.labels(endpoint, variant, code),
                self.latency.labels(endpoint, variant),
                self.errors.labels(endpoint, variant, code) if status >= 400 else None,
            )
            self._children[(endpoint, variant, status)] = children
        children[0].inc()
        children[1].observe(elapsed_s)
        if children[2] is not None:
            children[2].inc()

    def batch_rows(self, endpoint: str, variant: str) -> Any:
        """The histogram of rows per model call for one endpoint and variant."""
        key = ("batch", endpoint, variant)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.batch_size.labels(endpoint, variant)
        return child


@cache
def serving_metrics() -> ServingMetrics:
    import prometheus_client as prom  # deferred: see the module docstring

    return ServingMetrics(
        requests=prom.Counter("mlrig_requests", "Prediction requests answered", ["endpoint", "variant", "status"]),
        latency=prom.Histogram(
            "mlrig_request_latency_seconds",
            "Time to answer a request, first byte of the request to the answer",
            ["endpoint", "variant"],
            buckets=LATENCY_BUCKETS_S,
        ),
        batch_size=prom.Histogram(
            "mlrig_batch_rows", "Rows scored per model call", ["endpoint", "variant"], buckets=BATCH_BUCKETS
        ),
        errors=prom.Counter("mlrig_errors", "Prediction requests refused or failed", ["endpoint", "variant", "status"]),
        shadow=prom.Counter("mlrig_shadow_predictions", "Rows scored by a shadow variant (not returned)", ["variant"]),
    )
