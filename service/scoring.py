"""Scoring: validated request columns → the routed variant's predictions (a binary model's probabilities and
decisions, a regressor's values), its shadows' scores, the metrics and the prediction-log rows. One path, used by
the front door (HTTP) and the BentoML API methods.

Each variant serves the compiled scorer its model was registered with (pipelines/ml/scorer.py: encode →
booster raw score → link), inline on the event loop: a row costs microseconds, less than handing it to a
thread would (docs/serving.md, batching). A label comes from a probability in one place, `Variant.labels`; a
variant without classes (regression) answers the number itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipelines.ml.scorer import Scorer
from pipelines.tasks.binary.metrics import DECISION_THRESHOLD
from service.metrics import ServingMetrics
from service.prediction_log import PredictionLog
from service.routing import Router


@dataclass(frozen=True)
class Variant:
    """One A/B variant: its name, the model version that answers, that model's scorer and decision rule (a binary
    model's classes and threshold; a regressor has neither and answers its number)."""

    name: str
    version: str
    scorer: Scorer
    positive: str | None = None
    negative: str | None = None
    threshold: float = DECISION_THRESHOLD
    # Per label (binary) or for every answer (regression, key None), the end of one answer's JSON object:
    # everything but the number, encoded once.
    _tails: dict[str | None, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        served = {"model_version": self.version, "variant": self.name}
        if self.classifies:
            tails = {
                label: json.dumps({"prediction": label, **served}, separators=(",", ":"))[1:].encode()
                for label in (self.positive, self.negative)
            }
        else:
            tails = {None: json.dumps(served, separators=(",", ":"))[1:].encode()}
        object.__setattr__(self, "_tails", tails)

    @property
    def classifies(self) -> bool:
        return self.positive is not None

    def labels(self, probabilities: list[float]) -> list[str] | None:
        """The one place a label is derived from a probability (binary classification: p ≥ threshold)."""
        if not self.classifies:
            return None
        return [self.positive if p >= self.threshold else self.negative for p in probabilities]

    def answer_json(self, value: float, label: str | None) -> bytes:
        """One answer as JSON (repr: shortest exact): binary {"probability", "prediction": label, "model_version",
        "variant"}; regression {"prediction": value, "model_version", "variant"}."""
        if label is None:
            return b'{"prediction":' + repr(value).encode() + b"," + self._tails[None]
        return b'{"probability":' + repr(value).encode() + b"," + self._tails[label]


@dataclass(frozen=True)
class Scored:
    variant: Variant
    probabilities: list[float]  # what the model predicts: a binary model's probabilities, a regressor's values
    labels: list[str] | None  # binary: the decisions; regression: None

    def _pairs(self) -> list[tuple[float, str | None]]:
        return list(zip(self.probabilities, self.labels or [None] * len(self.probabilities), strict=True))

    def json(self, many: bool) -> bytes:
        answers = [self.variant.answer_json(p, y) for p, y in self._pairs()]
        return b"[" + b",".join(answers) + b"]" if many else answers[0]

    def records(self) -> list[dict[str, Any]]:
        served = {"model_version": self.variant.version, "variant": self.variant.name}
        if self.labels is None:
            return [{"prediction": p, **served} for p in self.probabilities]
        return [{"probability": p, "prediction": y, **served} for p, y in self._pairs()]

    def logged(self) -> dict[str, list[Any]]:
        """The prediction log's answer columns (the task's `logged`)."""
        if self.labels is None:
            return {"prediction": self.probabilities}
        return {"probability": self.probabilities, "prediction": self.labels}


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
                        **result.logged(),
                        "latency_ms": elapsed_ms,
                    },
                )
        return scored

    def _score_with(self, variant: Variant, route: str, columns: dict[str, list[Any]], rows: int) -> Scored:
        probabilities = variant.scorer.predict(columns, rows)
        if rows > 1:  # a /score row is always scored alone: only batches have a size worth a histogram
            self.metrics.batch_rows(route, variant.name).observe(rows)
        return Scored(variant, probabilities, variant.labels(probabilities))


def warm_up(variants: dict[str, Variant], example: dict[str, Any]) -> None:
    """Every variant answers once before the service reports ready; a scorer that cannot is a start-up error."""
    one = {name: [value] for name, value in example.items()}
    two = {name: [value, value] for name, value in example.items()}
    for variant in variants.values():  # both ways a scorer scores: one row, and an array of rows
        probability = variant.scorer.predict(one, 1) + variant.scorer.predict(two, 2)
        if not np.isfinite(probability).all():
            raise RuntimeError(f"variant {variant.name} ({variant.version}) answered {probability} to a valid request.")
