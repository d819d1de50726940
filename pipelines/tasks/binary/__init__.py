"""Binary classification: a LightGBM classifier scoring the probability of the contract's positive class, and
the decision at a threshold chosen on validation rows (threshold.py) that the gate, the service and monitoring
apply. Metrics: ROC AUC, log loss, Brier, and precision/recall/F1/accuracy at the threshold (metrics.py); the gate
asks for lift over chance and over flagging everyone (lift.py); the card draws ROC, precision-recall,
calibration and the confusion matrix (plots.py); late outcomes are judged by ROC AUC and the served decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import roc_auc_score

from pipelines.config import Contract, ModelSettings, MonitoringSettings
from pipelines.tasks import Direction, Lift
from pipelines.tasks.binary import lift, metrics, plots, threshold

MIN_PER_CLASS = 20


class Answer(BaseModel):
    """The service's answer for one record: the positive class's probability and the decision at the model's own
    threshold."""

    model_config = ConfigDict(protected_namespaces=())

    probability: float = Field(..., ge=0, le=1, description="Probability of the positive class")
    prediction: str = Field(..., description="The predicted class, per the contract's target values")
    model_version: str = Field(..., description="The BentoML model tag that answered")
    variant: str = Field(..., description="The A/B variant (serving.variants) whose model answered")


class BinaryTask:
    name = "binary"
    step = "classify"
    metrics: Mapping[str, Direction] = {
        "roc_auc": "higher",
        "log_loss": "lower",
        "brier": "lower",
        "f1": "higher",
        "precision": "higher",
        "recall": "higher",
        "accuracy": "higher",
    }
    headline = ("roc_auc", "f1", "precision", "recall", "accuracy", "log_loss", "brier", "positive_rate")
    lift_metrics = lift.LIFT_METRICS
    decides = True  # chooses a threshold on validation rows held out of fitting
    contribution_unit = "log-odds"  # of the card's feature importance (TreeSHAP on the raw score)
    tune_metric = "roc_auc"
    outcome_metric = "roc_auc"
    answer = Answer
    score_column = "probability"  # what the prediction log keeps of each answer, beside the decision
    logged: Mapping[str, Any] = {"probability": pl.Float64, "prediction": pl.String}

    def estimator(self, params: dict, seed: int) -> Any:
        from lightgbm import LGBMClassifier

        return LGBMClassifier(**params, random_state=seed, verbose=-1, n_jobs=1)

    def label(self, contract: Contract) -> pl.Expr:
        """The target as 0/1: 1 for the contract's positive class."""
        return (pl.col(contract.target).cast(pl.String) == contract.positive_class).cast(pl.Int8)

    def label_problem(self, labels: pd.Series, table: str) -> str | None:
        counts = labels.value_counts()
        if len(counts) < 2 or counts.min() < MIN_PER_CLASS:
            return (
                f"{table} has class counts {counts.to_dict()}; each class needs at least {MIN_PER_CLASS} rows to "
                "train and evaluate."
            )
        return None

    def predict(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        """The positive class's probability."""
        return model.predict_proba(features)[:, 1]

    def choose_decision(
        self, labels: np.ndarray, scores: np.ndarray, settings: ModelSettings
    ) -> threshold.Threshold | None:
        return threshold.choose_threshold(labels, scores, settings.threshold)

    def decision_of(self, metadata: Mapping[str, Any]) -> float | None:
        return threshold.threshold_of(dict(metadata))

    def evaluate(
        self, labels: np.ndarray, scores: np.ndarray, slices: pd.DataFrame | None, decision: float | None
    ) -> dict:
        return metrics.evaluate(labels, scores, slices, threshold.DEFAULT_THRESHOLD if decision is None else decision)

    def lift(
        self,
        labels: np.ndarray,
        scores: np.ndarray,
        decision: float | None,
        confidences: Mapping[str, float],
        rounds: int,
        seed: int,
    ) -> dict[str, Lift]:
        at = threshold.DEFAULT_THRESHOLD if decision is None else decision
        return lift.lift_bounds(labels, scores, at, confidences, rounds, seed)

    def advice(self, failed: Sequence[str], metrics: Mapping[str, Any], metadata: Mapping[str, Any]) -> list[str]:
        rate = metrics.get("positive_rate", 0.0)
        chosen = metadata.get("threshold") or {}
        tips = []
        decision_rule = any(
            name.split(" ")[0] in ("precision", "recall", "f1", "accuracy") and ("minimum" in name or "lift" in name)
            for name in failed
        )
        if decision_rule:
            tips.append(
                f"decisions: the threshold is {chosen.get('value', threshold.DEFAULT_THRESHOLD):.3f} "
                f"(policy {chosen.get('policy', 'fixed 0.5')}) and {rate:.1%} of test rows are positive. Choose it "
                'for your errors under [model.threshold] (policy = "min_recall" with min_recall = 0.6, or "cost" '
                "with cost_ratio = how many false alarms one missed positive is worth), and set [gate] min_lift "
                f"over the trivial baseline rather than fixed minimums (flagging everyone scores F1 "
                f"{lift.trivial_baseline('f1', rate):.3f} here)."
            )
        if any(name.startswith(("roc_auc ≥", "accuracy ≥", "roc_auc lift", "log_loss ≤")) for name in failed):
            tips.append(
                f"ranking: ROC AUC {metrics.get('roc_auc') or float('nan'):.3f} on {metrics.get('test_rows', 0)} "
                "test rows, where 0.5 is chance: this model may have learned nothing, and should not serve. Check "
                "that contract.positive_class is the outcome you mean, that the target is not shuffled or leaked "
                "away from its row, and that features are not mostly empty (`mlrig report`); then more rows, "
                "features that carry the signal, or `mlrig tune`."
            )
        return tips

    def answer_problem(self, answer: Mapping[str, Any]) -> str | None:
        """What is wrong with one served answer (smoke checks), or None."""
        probability = answer.get("probability")
        if not isinstance(probability, int | float) or not 0 <= probability <= 1:
            return f"probability {probability!r} is not in [0, 1]"
        return None

    def card_plots(self, metadata: Mapping[str, Any]) -> dict[str, str]:
        return plots.card_plots(metadata)

    def outcome_metrics(self, labels: np.ndarray, predictions: np.ndarray, decided: np.ndarray | None) -> dict:
        """Late outcomes (0/1) against the served probabilities and decisions."""
        labels = labels.astype(int)
        flagged = decided if decided is not None else threshold.decide(predictions, threshold.DEFAULT_THRESHOLD)
        tp = int(np.sum(flagged & (labels == 1)))
        return {
            "outcomes": len(labels),
            "precision": tp / flagged.sum() if flagged.sum() else None,
            "recall": tp / labels.sum() if labels.sum() else None,
            "roc_auc": float(roc_auc_score(labels, predictions)) if 0 < labels.sum() < len(labels) else None,
            "brier": float(np.mean((predictions - labels) ** 2)),
        }

    def retrain_reasons(
        self,
        latest: pl.DataFrame,
        residuals: np.ndarray | None,
        metadata: Mapping[str, Any],
        settings: MonitoringSettings,
    ) -> list[str]:
        """The latest window's ROC AUC below its floor, or fallen too far from the model's own at training."""
        reasons = []
        auc = latest["roc_auc"].drop_nulls() if "roc_auc" in latest.columns else pl.Series([], dtype=pl.Float64)
        training = (metadata.get("metrics") or {}).get("roc_auc")
        if auc.len():
            worst = float(auc.min())
            if worst < settings.min_roc_auc:
                reasons.append(f"ROC AUC {worst:.3f} < minimum {settings.min_roc_auc:g}")
            if training is not None and training - worst > settings.max_roc_auc_drop:
                reasons.append(
                    f"ROC AUC fell {training - worst:.3f} from {training:.3f} at training "
                    f"(limit {settings.max_roc_auc_drop:g})"
                )
        return reasons


BINARY = BinaryTask()
