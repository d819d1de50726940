"""The decision threshold of a binary classifier: chosen on validation data by the policy in `[model.threshold]`,
stored with the model, and applied by the gate, the service and monitoring through `decide`. Part of the binary
task (pipelines/tasks/binary/).

A fixed 0.5 is right only when classes are balanced and errors cost the same: on a book with 5 % defaults a good
model rarely scores a case above 0.5, so it "predicts" no defaults at all (F1 0). Policies:
- `max_f1`: the threshold with the best F1 on validation rows;
- `cost`: the least expected cost when a missed positive costs `cost_ratio` false alarms;
- `min_precision` / `min_recall`: the most recall (precision) while precision (recall) stays at least the target;
- `fixed`: `value`, as configured.
Pure functions of arrays: no I/O, no model (a regression task has no threshold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.config import ThresholdPolicy

DEFAULT_THRESHOLD = 0.5  # a model registered before thresholds were stored


class ThresholdError(ValueError):
    """No threshold meets the policy's target on the validation rows; the message says what to relax."""


@dataclass(frozen=True)
class Threshold:
    value: float
    policy: str
    precision: float  # on the validation rows, at `value`
    recall: float
    f1: float
    validation_rows: int

    def to_dict(self) -> dict:
        return {
            "value": self.value,
            "policy": self.policy,
            "validation": {
                "precision": self.precision,
                "recall": self.recall,
                "f1": self.f1,
                "rows": self.validation_rows,
            },
        }


def _candidates(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every distinct score as a threshold (predict positive when score ≥ it), with precision, recall, FP, FN."""
    order = np.argsort(-scores, kind="stable")
    ranked_scores, ranked_labels = scores[order], labels[order].astype(int)
    last_of_each = np.r_[np.flatnonzero(np.diff(ranked_scores)), len(ranked_scores) - 1]
    tp = np.cumsum(ranked_labels)[last_of_each]
    flagged = last_of_each + 1
    fp = flagged - tp
    positives = int(ranked_labels.sum())
    precision = tp / flagged
    recall = tp / positives if positives else np.zeros_like(tp, dtype=float)
    return ranked_scores[last_of_each], precision, recall, fp, positives - tp


def _f1(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    total = precision + recall
    return np.divide(2 * precision * recall, total, out=np.zeros_like(total, dtype=float), where=total > 0)


def choose_threshold(labels: np.ndarray, scores: np.ndarray, policy: ThresholdPolicy) -> Threshold:
    """The threshold `policy` picks on these validation labels (0/1) and scores (positive-class probabilities)."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    thresholds, precision, recall, fp, fn = _candidates(labels, scores)
    f1 = _f1(precision, recall)
    if policy.policy == "fixed":
        return _at(policy.value, "fixed", labels, scores)
    if policy.policy == "max_f1":
        best = int(np.argmax(f1))
    elif policy.policy == "cost":
        best = int(np.argmin(fp + policy.cost_ratio * fn))
    elif policy.policy == "min_precision":
        ok = np.flatnonzero(precision >= policy.min_precision)
        if not len(ok):
            raise ThresholdError(
                f"no threshold reaches precision {policy.min_precision} on the {len(labels)} validation rows (best "
                f"{precision.max():.3f}): lower model.threshold.min_precision, or improve the model first."
            )
        best = int(ok[np.argmax(recall[ok])])
    else:
        ok = np.flatnonzero(recall >= policy.min_recall)
        best = int(ok[np.argmax(precision[ok])])  # recall reaches 1.0 at the lowest score: never empty
    label = policy.policy if policy.policy != "cost" else f"cost (a miss = {policy.cost_ratio:g} false alarms)"
    return Threshold(
        float(thresholds[best]), label, float(precision[best]), float(recall[best]), float(f1[best]), len(labels)
    )


def _at(value: float, policy: str, labels: np.ndarray, scores: np.ndarray) -> Threshold:
    flagged = scores >= value
    tp = int(np.sum(flagged & (labels == 1)))
    precision = tp / flagged.sum() if flagged.sum() else 0.0
    recall = tp / labels.sum() if labels.sum() else 0.0
    f1 = float(_f1(np.array([precision]), np.array([recall]))[0])
    return Threshold(value, policy, float(precision), float(recall), f1, len(labels))


def threshold_of(metadata: dict) -> float:
    """The threshold a registered model carries (its metadata), or 0.5 for a model from before thresholds."""
    return float((metadata.get("threshold") or {}).get("value", DEFAULT_THRESHOLD))


def decide(probability: float | np.ndarray, threshold: float) -> bool | np.ndarray:
    """Positive when the probability reaches the threshold: the one place the rule is written."""
    return probability >= threshold
