"""How much better than a trivial baseline a model is on the test rows, as a bootstrap lower bound.

A first model has no champion to beat, and fixed minimums (the demo's `roc_auc ≥ 0.75`) mean nothing for a
5 % default rate. What every model must show is that it beats what needs no model at all, by more than the
noise of the test rows could produce:
- `roc_auc`: 0.5, what any constant or random score ranks at (chance);
- `f1`: flagging every record (precision = positive rate, recall = 1);
- `precision`: the positive rate (flagging at random);
- `accuracy`: always answering the majority class.
`recall` has no trivial baseline below 1.0 (flagging everyone reaches it), so it takes absolute minimums only.

The lower bound is the (1 − confidence) quantile of the lift over stratified bootstrap resamples of the test rows
(positives and negatives resampled apart, so each resample keeps the test's positive rate, as pROC does for AUC
intervals). With 60 test positives a no-signal model reaches ROC AUC 0.55 about one time in ten; the lower bound
shrinks with the number of test rows instead of a fixed margin that is too loose on small sets and too strict on
large ones. Pure functions of arrays: no I/O, no model.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pipelines.tasks import Lift
from pipelines.tasks.binary.threshold import decide
from pipelines.tasks.evaluation import resample_counts

# metric → the trivial decision it is compared with (the task's `lift_metrics`)
LIFT_METRICS = {
    "roc_auc": "chance (0.5)",
    "f1": "flagging everyone",
    "precision": "flagging at random",
    "accuracy": "the majority class",
}


def trivial_baseline(metric: str, positive_rate: float) -> float:
    """The metric the trivial decision reaches at this positive rate (see the module docstring)."""
    p = positive_rate
    baselines = {"roc_auc": 0.5, "f1": 2 * p / (1 + p), "precision": p, "accuracy": max(p, 1 - p)}
    if metric not in baselines:
        raise ValueError(f"{metric!r} has no trivial baseline; use one of {list(LIFT_METRICS)}")
    return baselines[metric]


def _weighted_auc(pos_scores: np.ndarray, neg_scores: np.ndarray, pos_w: np.ndarray, neg_w: np.ndarray) -> np.ndarray:
    """ROC AUC per resample (Mann–Whitney, ties counted half): each positive against the negatives below it."""
    order = np.argsort(neg_scores, kind="stable")
    sorted_neg = neg_scores[order]
    below = np.searchsorted(sorted_neg, pos_scores, side="left")
    up_to = np.searchsorted(sorted_neg, pos_scores, side="right")
    cumulative = np.hstack([np.zeros((len(neg_w), 1)), np.cumsum(neg_w[:, order], axis=1)])
    wins = cumulative[:, below] + 0.5 * (cumulative[:, up_to] - cumulative[:, below])
    return (pos_w * wins).sum(axis=1) / (len(pos_scores) * len(neg_scores))


def _decision_metric(metric: str, pos_flagged: np.ndarray, neg_flagged: np.ndarray, pos_w, neg_w) -> np.ndarray:
    tp, fp = pos_w[:, pos_flagged].sum(axis=1), neg_w[:, neg_flagged].sum(axis=1)
    fn, tn = len(pos_flagged) - tp, len(neg_flagged) - fp  # stratified: class sizes are fixed
    if metric == "f1":
        return np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp, dtype=float), where=(2 * tp + fp + fn) > 0)
    if metric == "precision":
        return np.divide(tp, tp + fp, out=np.zeros_like(tp, dtype=float), where=(tp + fp) > 0)
    return (tp + tn) / (len(pos_flagged) + len(neg_flagged))


def lift_bounds(
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    confidences: Mapping[str, float],
    rounds: int = 1000,
    seed: int = 0,
) -> dict[str, Lift]:
    """Each metric's lift over its trivial baseline on these test labels (0/1) and scores (`threshold` decides),
    with its lower bound at the metric's confidence (`confidences`: metric → confidence).

    Undefined (one class only in the test rows) gives NaN, which fails every comparison.
    """
    labels, scores = np.asarray(labels).astype(int), np.asarray(scores, dtype=float)
    positives = int(labels.sum())
    if positives in (0, len(labels)):
        nan = float("nan")
        return {m: Lift(m, nan, nan, nan, c, 0, len(labels), positives) for m, c in confidences.items()}
    rate = positives / len(labels)
    rng = np.random.default_rng(seed)
    positive = labels == 1
    pos_w, neg_w = resample_counts(positives, rounds, rng), resample_counts(len(labels) - positives, rounds, rng)
    flagged = np.asarray(decide(scores, threshold), dtype=bool)
    result = {}
    for metric, confidence in confidences.items():
        if metric == "roc_auc":
            values = _weighted_auc(scores[positive], scores[~positive], pos_w, neg_w)
        else:
            values = _decision_metric(metric, flagged[positive], flagged[~positive], pos_w, neg_w)
        baseline = trivial_baseline(metric, rate)  # stratified: every resample keeps the test's positive rate
        lifts = values[1:] - baseline
        result[metric] = Lift(
            metric,
            float(values[0]),
            baseline,
            float(np.quantile(lifts, 1 - confidence)),
            confidence,
            rounds,
            len(labels),
            positives,
        )
    return result
