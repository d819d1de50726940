"""When to retrain: drift in what the model sees, or a drop in how it performs on outcomes that came back.

Only the decision lives here; retraining itself is the ML pipeline (train → gate), so a retrained model that
is worse than the champion is still blocked by the gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from pipelines.config import Config, MonitoringSettings
from pipelines.monitor.drift import DriftReport
from pipelines.tasks import Task


@dataclass(frozen=True)
class RetrainDecision:
    reasons: list[str] = field(default_factory=list)

    @property
    def retrain(self) -> bool:
        return bool(self.reasons)


def decide(
    drift: DriftReport | None,
    performance: pl.DataFrame | None,
    settings: MonitoringSettings,
    training_roc_auc: float | None,
) -> RetrainDecision:
    """Retrain when any feature (or the score) drifted, or the latest window's AUC broke its floor or dropped
    (a binary model; `decide_for_task` asks any task)."""
    from pipelines.tasks.binary import BINARY

    reasons = []
    if drift is not None and drift.drifted:
        reasons.append(f"drift in {', '.join(drift.drifted)}")
    if performance is not None and performance.height:
        latest = performance.filter(pl.col("window") == performance["window"].max())
        reasons += BINARY.retrain_reasons(latest, None, {"metrics": {"roc_auc": training_roc_auc}}, settings)
    return RetrainDecision(reasons)


def decide_for_task(
    drift: DriftReport | None,
    performance: pl.DataFrame | None,
    config: Config,
    task: Task,
    metadata: Mapping[str, Any],
    residuals: np.ndarray | None = None,
) -> RetrainDecision:
    """Retrain on drift, or on the task's own verdict on the latest window of late outcomes (binary: its ROC AUC
    floor and drop; regression: RMSE risen over the test RMSE, residuals drifted from the test residuals)."""
    reasons = list(decide(drift, None, config.monitoring, None).reasons)
    if performance is not None and performance.height:
        latest = performance.filter(pl.col("window") == performance["window"].max())
        reasons += task.retrain_reasons(latest, residuals, metadata, config.monitoring)
    elif residuals is not None:
        reasons += task.retrain_reasons(pl.DataFrame(), residuals, metadata, config.monitoring)
    return RetrainDecision(reasons)
