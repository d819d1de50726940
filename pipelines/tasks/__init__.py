"""Tasks: what a model learns (binary classification, regression), each in one module that owns everything that
differs between them, so the stages (train, tune, gate, card, service, monitoring, init) ask the task instead of
assuming a classifier.

A task owns: the estimator; how the target becomes gold's label; the metrics and which way each moves; the
gate's task rules (lift over a trivial predictor, the decision a binary model makes); what the service answers;
the card's plots; how late outcomes are judged in monitoring. `task_of(config)` is the way in: it returns the
config's task and checks that the [gate] rules name that task's metrics. Adding a task: docs/ml.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import polars as pl

from pipelines.config import Config, ConfigError, Contract, ModelSettings, MonitoringSettings

Direction = Literal["higher", "lower"]  # which way a metric moves when the model gets better


@dataclass(frozen=True)
class Lift:
    """How much better than a trivial predictor a model is on the test rows, as a bootstrap lower bound."""

    metric: str
    value: float  # the model's metric on the test rows
    baseline: float  # the trivial predictor's, on the same rows
    lower_bound: float  # of the improvement over the baseline (signed so that more is better), at `confidence`
    confidence: float
    rounds: int
    rows: int
    positives: int | None = None  # binary: positives among the test rows

    def detail(self) -> str:
        among = f" ({self.positives} pos.)" if self.positives is not None else ""
        return f"{self.value:.3f} vs {self.baseline:.3f}; {self.rounds} resamples of {self.rows} rows{among}"


class Task(Protocol):
    """What every task module provides (pipelines/tasks/binary, pipelines/tasks/regression.py)."""

    name: str
    step: str  # the estimator's step name in the Pipeline
    metrics: Mapping[str, Direction]  # every metric evaluate() reports that the gate may name
    headline: tuple[str, ...]  # the card's, the PR comment's and the slice table's metrics, most important first
    lift_metrics: Mapping[str, str]  # metric → its trivial predictor, as said in docs and advice
    decides: bool  # makes a decision chosen on validation rows (binary: the threshold), held out of fitting
    contribution_unit: str  # of a feature's contribution to the raw score (card's importance)
    tune_metric: str  # what tuning optimises on validation rows (direction from `metrics`)
    outcome_metric: str  # what monitoring plots per window on late outcomes
    answer: type  # the service's answer for one record (a pydantic model)
    score_column: str  # the prediction log's column that holds the model's number (probability, or value)
    logged: Mapping[str, Any]  # the prediction log's columns for an answer, with their polars types

    def estimator(self, params: dict, seed: int) -> Any: ...
    def label(self, contract: Contract) -> pl.Expr: ...
    def label_problem(self, labels: pd.Series, table: str) -> str | None: ...
    def predict(self, model: Any, features: pd.DataFrame) -> np.ndarray: ...
    def choose_decision(self, labels: np.ndarray, scores: np.ndarray, settings: ModelSettings) -> Any | None: ...
    def decision_of(self, metadata: Mapping[str, Any]) -> float | None: ...
    def evaluate(
        self, labels: np.ndarray, scores: np.ndarray, slices: pd.DataFrame | None, decision: float | None
    ) -> dict: ...
    def lift(
        self,
        labels: np.ndarray,
        scores: np.ndarray,
        decision: float | None,
        confidences: Mapping[str, float],
        rounds: int,
        seed: int,
    ) -> dict[str, Lift]: ...
    def advice(self, failed: Sequence[str], metrics: Mapping[str, Any], metadata: Mapping[str, Any]) -> list[str]: ...
    def answer_problem(self, answer: Mapping[str, Any]) -> str | None: ...
    def card_plots(self, metadata: Mapping[str, Any]) -> dict[str, str]: ...
    def outcome_metrics(self, labels: np.ndarray, predictions: np.ndarray, decided: np.ndarray | None) -> dict: ...
    def retrain_reasons(
        self,
        latest: pl.DataFrame,
        residuals: np.ndarray | None,
        metadata: Mapping[str, Any],
        settings: MonitoringSettings,
    ) -> list[str]: ...


def _registry() -> dict[str, Task]:
    from pipelines.tasks.binary import BINARY
    from pipelines.tasks.regression import REGRESSION

    return {BINARY.name: BINARY, REGRESSION.name: REGRESSION}


def get_task(name: str) -> Task:
    tasks = _registry()
    if name not in tasks:
        raise ConfigError(f"contract.task: {name!r} is not a task; use one of {sorted(tasks)}")
    return tasks[name]


def task_of(config: Config) -> Task:
    """The config's task, after checking that every [gate] rule names one of its metrics the right way round."""
    task = get_task(config.contract.task)
    check_gate(config, task)
    return task


def check_gate(config: Config, task: Task) -> None:
    """Gate rules name the task's metrics; a typo, or a floor on a lower-is-better metric, fails before training."""
    gate, known = config.gate, sorted(task.metrics)
    for key, rules in (
        ("min_metrics", gate.min_metrics),
        ("max_metrics", gate.max_metrics),
        ("max_regression", gate.max_regression),
        ("max_slice_gap", gate.max_slice_gap),
    ):
        unknown = sorted(set(rules) - set(task.metrics))
        if unknown:
            raise ConfigError(f"gate.{key}: unknown metric(s) {unknown} for task {task.name!r}; use any of {known}.")
    for key, direction in (("min_metrics", "lower"), ("max_metrics", "higher")):
        wrong = sorted(m for m in getattr(gate, key) if task.metrics[m] == direction)
        if wrong:
            other = "max_metrics" if key == "min_metrics" else "min_metrics"
            raise ConfigError(f"gate.{key}: {wrong} is {direction}-is-better; give its limit in gate.{other}.")
    no_baseline = sorted(set(gate.min_lift) - set(task.lift_metrics))
    if no_baseline:
        raise ConfigError(
            f"gate.min_lift: {no_baseline} has no trivial baseline to lift over for task {task.name!r}"
            f"{' (flagging everyone reaches recall 1.0)' if 'recall' in no_baseline else ''}; use any of "
            f"{list(task.lift_metrics)}, and gate.min_metrics / max_metrics for an absolute limit."
        )
    stray = sorted(set(gate.lift_confidence) - set(gate.min_lift))
    bad = {m: c for m, c in gate.lift_confidence.items() if not 0.5 <= c < 1}
    if stray or bad:
        raise ConfigError(
            f"gate.lift_confidence: {stray or bad}: name only metrics of gate.min_lift, each with a confidence in "
            "[0.5, 1) (0.5: the median resample, about the point estimate; 0.95: a one-sided 95 % lower bound)."
        )


def improvement(task: Task, metric: str, new: float, old: float) -> float:
    """How much better `new` is than `old` on `metric` (negative: worse), whichever way the metric moves."""
    return new - old if task.metrics[metric] == "higher" else old - new
