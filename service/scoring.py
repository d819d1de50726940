"""Scoring: validated request columns → the routed variant's probabilities and labels, its shadows' scores,
the metrics and the prediction-log rows. One path, used by the front door (HTTP) and the BentoML API methods.

Each variant serves the compiled scorer its model was registered with (pipelines/ml/scorer.py: encode →
booster raw score → link), inline on the event loop: a row costs microseconds, less than handing it to a
thread would (docs/serving.md, batching). A label comes from a probability in one place, `Variant.labels`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines.ml.evaluate import DECISION_THRESHOLD
from pipelines.ml.scorer import Scorer
from service.metrics import ServingMetrics
from service.prediction_log import PredictionLog
from service.routing import Router


@dataclass(frozen=True)
class Variant:
    """One A/B variant: its name, the model version that answers, that model's scorer and decision rule."""

    name: str
    version: str
    scorer: Scorer
    positive: str
    negative: str
    threshold: float = DECISION_THRESHOLD
    # Per label, the end of one answer's JSON object: everything but the probability, encoded once.
    _tails: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tails = {
            label: json.dumps(
                {"prediction": label, "model_version": self.version, "variant": self.name}, separators=(",", ":")
            )[1:].encode()
            for label in (self.positive, self.negative)
        }
        object.__setattr__(self, "_tails", tails)

    def labels(self, probabilities: list[float]) -> list[str]:
        """The one place a label is derived from a probability (binary classification: p ≥ threshold)."""
        return [self.positive if p >= self.threshold else self.negative for p in probabilities]

    def answer_json(self, probability: float, label: str) -> bytes:
        """One answer as JSON: {"probability", "prediction", "model_version", "variant"} (repr: shortest exact)."""
        return b'{"probability":' + repr(probability).encode() + b"," + self._tails[label]


@dataclass(frozen=True)
class Scored:
    variant: Variant
    probabilities: list[float]
    labels: list[str]

    def json(self, many: bool) -> bytes:
        answers = [self.variant.answer_json(p, y) for p, y in zip(self.probabilities, self.labels, strict=True)]
        return b"[" + b",".join(answers) + b"]" if many else answers[0]

    def records(self) -> list[dict[str, Any]]:
        return [
            {"probability": p, "prediction": y, "model_version": self.variant.version, "variant": self.variant.name}
            for p, y in zip(self.probabilities, self.labels, strict=True)
        ]


class Scoring:
    """Every variant of one server process, the router between them, and where their answers are recorded."""

    def __init__(
        self,
        variants: dict[str, Variant],
        router: Router,
        logged_features: tuple[str, ...],
        log: PredictionLog | None,
        metrics: ServingMetrics,
        pseudonymize: Callable[[str], str | None],
    ) -> None:
        self.variants = variants
        self.router = router
        self.logged_features = logged_features
        self.log = log
        self.metrics = metrics
        self.pseudonymize = pseudonymize  # request key → what the log keeps (keyed hash), or None
        self.shadows = tuple(variants[name] for name in router.shadows)

    def score(
        self,
        route: str,
        columns: dict[str, list[Any]],
        rows: int,
        request_id: str,
        request_key: str | None,
        started: float,
    ) -> Scored:
        """Route, score, score the shadows, count, log; the routed variant's answer."""
        variant = self.variants[self.router.choose(request_key)]
        scored = self._score_with(variant, route, columns, rows)
        shadow_scores = [self._score_with(shadow, route, columns, rows) for shadow in self.shadows]
        for shadow in self.shadows:
            self.metrics.shadow.labels(shadow.name).inc(rows)
        if self.log is not None:
            elapsed_ms = (time.perf_counter() - started) * 1000
            logged_key = self.pseudonymize(request_key) if request_key else None
            ids: str | list[str] = request_id if rows == 1 else [f"{request_id}/{i}" for i in range(rows)]
            inputs = {name: columns[name] for name in self.logged_features}
            for result, shadow in ((scored, False), *((s, True) for s in shadow_scores)):
                self.log.append(
                    rows,
                    {
                        **inputs,
                        "request_id": ids,
                        "request_key": logged_key,
                        "endpoint": route,
                        "variant": result.variant.name,
                        "shadow": shadow,
                        "model_version": result.variant.version,
                        "probability": result.probabilities,
                        "prediction": result.labels,
                        "latency_ms": elapsed_ms,
                    },
                )
        return scored

    def _score_with(self, variant: Variant, route: str, columns: dict[str, list[Any]], rows: int) -> Scored:
        probabilities = variant.scorer.probabilities(columns, rows)
        if rows > 1:  # a /score row is always scored alone: only batches have a size worth a histogram
            self.metrics.batch_rows(route, variant.name).observe(rows)
        return Scored(variant, probabilities, variant.labels(probabilities))


def warm_up(variants: dict[str, Variant], example: dict[str, Any]) -> None:
    """Every variant answers once before the service reports ready; a scorer that cannot is a start-up error."""
    one = {name: [value] for name, value in example.items()}
    two = {name: [value, value] for name, value in example.items()}
    for variant in variants.values():  # both ways a scorer scores: one row, and an array of rows
        probability = variant.scorer.probabilities(one, 1) + variant.scorer.probabilities(two, 2)
        if not np.isfinite(probability).all():
            raise RuntimeError(f"variant {variant.name} ({variant.version}) answered {probability} to a valid request.")
