"""Binary evaluation: the metrics a reviewer asks for first, computed on the held-out split only.

Beyond the headline numbers: calibration (is a 0.3 really a 30 % risk?), the confusion matrix, and the same
metrics per group of each categorical slice column the config names, because a model can be good on
average and bad for one country. The card draws its curves from `curves`; the gate reads `metrics`/`slices`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from pipelines.tasks import evaluation
from pipelines.tasks.binary.threshold import DEFAULT_THRESHOLD as DECISION_THRESHOLD
from pipelines.tasks.binary.threshold import decide

CALIBRATION_BINS = 10


def classification_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float = DECISION_THRESHOLD) -> dict:
    """Headline metrics; ROC AUC is None for a group holding one class only (it is undefined there)."""
    predicted = decide(scores, threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
    both_classes = len(np.unique(labels)) == 2
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(labels, scores)) if both_classes else None,
        "brier": float(brier_score_loss(labels, scores, pos_label=1)),
        "log_loss": float(log_loss(labels, np.clip(scores, 1e-15, 1 - 1e-15), labels=[0, 1])) if len(labels) else None,
        "confusion_matrix": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        "threshold": threshold,
        "test_rows": len(labels),
        "positive_rate": float(np.mean(labels)),
    }


def slice_metrics(
    labels: np.ndarray, scores: np.ndarray, groups: pd.DataFrame, threshold: float = DECISION_THRESHOLD
) -> dict[str, dict[str, dict]]:
    """{slice column: {group value: metrics}} for every column in `groups` (null values form a "(missing)" group)."""
    return evaluation.slice_metrics(labels, scores, groups, lambda y, s: classification_metrics(y, s, threshold))


def calibration(labels: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS) -> dict[str, list[float]]:
    """Reliability curve data: per score bin, the mean predicted probability and the observed positive rate."""
    observed, predicted = calibration_curve(labels, scores, n_bins=bins, strategy="quantile")
    return {"predicted": predicted.round(4).tolist(), "observed": observed.round(4).tolist()}


def curves(labels: np.ndarray, scores: np.ndarray) -> dict[str, dict[str, list[float]]]:
    """ROC, precision-recall and reliability curves, thinned to ≤ 200 points so metadata stays small."""
    fpr, tpr, _ = roc_curve(labels, scores)
    precision, recall, _ = precision_recall_curve(labels, scores)
    return {
        "roc": evaluation.thin({"fpr": fpr, "tpr": tpr}),
        "precision_recall": evaluation.thin({"recall": recall, "precision": precision}),
        "calibration": calibration(labels, scores),
    }


def evaluate(
    labels: np.ndarray,
    scores: np.ndarray,
    slice_columns: pd.DataFrame | None = None,
    threshold: float = DECISION_THRESHOLD,
) -> dict:
    """Everything the gate and the card read about one model on one test split, at the model's own threshold."""
    return {
        "metrics": classification_metrics(labels, scores, threshold),
        "slices": slice_metrics(labels, scores, slice_columns, threshold) if slice_columns is not None else {},
        "curves": curves(labels, scores),
    }
