"""Outcomes: labels that arrive after the fact, joined to the predictions that were served for them.

From the joined table come model performance per time window and per A/B variant (the concept-drift signal; the
metrics are the task's, pipelines/tasks/: ROC AUC and the served decisions' precision/recall for a classifier,
RMSE/MAE for a regressor) and the A/B verdict: whether one variant's predictions are reliably better, by Welch's
t-test on per-prediction squared errors (for probabilities, the Brier loss: a proper scoring rule, so a variant
cannot win by being overconfident).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

from pipelines.tasks import Task
from pipelines.tasks.binary import BINARY
from pipelines.tasks.binary.threshold import DEFAULT_THRESHOLD, decide

REQUEST_KEY, LABEL, PROBABILITY, VARIANT, LOGGED_AT = "request_key", "label", "probability", "variant", "logged_at"
RECORDED_AT = "recorded_at"  # when a label was recorded: a corrected label for the same request wins by it
PREDICTION = "prediction"


def flagged(frame: pl.DataFrame, positive_class: str | None) -> pl.Series:
    """Which served answers said "positive": the decision the service logged, made at the serving model's own
    threshold; a log without decisions (older rows) falls back to 0.5."""
    if positive_class is not None and PREDICTION in frame.columns:
        return (frame[PREDICTION] == positive_class).fill_null(False)
    return pl.Series(decide(frame[PROBABILITY].to_numpy(), DEFAULT_THRESHOLD))


class OutcomesError(ValueError):
    """Predictions or labels lack what the join needs."""


@dataclass(frozen=True)
class VariantVerdict:
    better: str | None  # the variant with lower Brier loss, when the difference is significant
    p_value: float
    brier: dict[str, float]  # mean squared error per variant (the Brier loss, for probabilities)
    rows: dict[str, int]
    loss: str = "Brier"

    @property
    def significant(self) -> bool:
        return self.better is not None

    def sentence(self) -> str:
        shown = ", ".join(f"{v}: {self.loss} {b:.4g} on {self.rows[v]} outcomes" for v, b in self.brier.items())
        if self.better is None:
            return f"not significant (p = {self.p_value:.3f}); {shown}"
        return f"{self.better} is better (p = {self.p_value:.2g}); {shown}"


def join_outcomes(predictions: pl.DataFrame, labels: pl.DataFrame, score: str = PROBABILITY) -> pl.DataFrame:
    """Each prediction with the label that later arrived for its request key; predictions without one are left out.
    `score`: the log's column holding the model's number (the task's `score_column`). When a request was labelled
    more than once (a correction), the most recently recorded label counts: a table's rows come back in no
    guaranteed order, so "last" is decided by `recorded_at`, not by position (older tables without it: position)."""
    for name, frame, needed in (
        ("predictions", predictions, (REQUEST_KEY, score, LOGGED_AT)),
        ("labels", labels, (REQUEST_KEY, LABEL)),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise OutcomesError(f"the {name} lack column(s) {missing}")
    if RECORDED_AT in labels.columns:
        labels = labels.sort(RECORDED_AT, nulls_last=False, maintain_order=True)
    newest = labels.select(REQUEST_KEY, LABEL).unique(REQUEST_KEY, keep="last", maintain_order=True)
    return predictions.join(newest, on=REQUEST_KEY, how="inner")


def performance_by_window(
    joined: pl.DataFrame, every: str = "1d", positive_class: str | None = None, task: Task = BINARY
) -> pl.DataFrame:
    """The task's outcome metrics per time window and per variant (binary: precision, recall, ROC AUC and Brier
    loss of the decisions as served; regression: RMSE, MAE, R², mean residual)."""
    by = [VARIANT] if VARIANT in joined.columns else []
    windows = joined.with_columns(pl.col(LOGGED_AT).dt.truncate(every).alias("window"))
    rows = []
    for keys, group in windows.group_by(["window", *by], maintain_order=True):
        rows.append(
            {
                "window": keys[0],
                **({VARIANT: keys[1]} if by else {}),
                **task.outcome_metrics(
                    group[LABEL].to_numpy(),
                    group[task.score_column].to_numpy(),
                    flagged(group, positive_class).to_numpy() if task.name == "binary" else None,
                ),
            }
        )
    return pl.DataFrame(rows).sort(["window", *by])


def compare_variants(joined: pl.DataFrame, alpha: float, score: str = PROBABILITY) -> VariantVerdict:
    """Is one variant's squared error reliably lower than the other's (for probabilities: calibrated accuracy)?
    Two variants, Welch's t-test."""
    variants = sorted(joined[VARIANT].unique().to_list())
    if len(variants) != 2:
        raise OutcomesError(f"an A/B verdict needs exactly two variants with outcomes; found {variants}")
    losses = {
        v: ((g[score] - g[LABEL]) ** 2).to_numpy() for v in variants for g in [joined.filter(pl.col(VARIANT) == v)]
    }
    p_value = float(stats.ttest_ind(losses[variants[0]], losses[variants[1]], equal_var=False).pvalue)
    brier = {v: float(np.mean(loss)) for v, loss in losses.items()}
    better = min(brier, key=brier.get) if p_value < alpha else None
    loss = "Brier" if score == PROBABILITY else "squared error"
    return VariantVerdict(better, p_value, brier, {v: len(loss) for v, loss in losses.items()}, loss)
