"""Train: gold/<dataset>_features at a recorded version → a fitted model and its held-out evaluation.

The split is by entity (a customer is in train or test, never both), seeded, so it is the same on every
run of the same data: the gate re-creates it from the gold version and seed a model records, and judges
challenger and champion on the same rows. Bad training data is refused before any time is spent fitting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import Pipeline

from pipelines.config import Config
from pipelines.data.features import LABEL, features_table_name
from pipelines.lake import Lake
from pipelines.ml.explain import global_importance
from pipelines.ml.model import build_model, fit_model
from pipelines.tasks import Task, task_of
from pipelines.tasks.binary.threshold import Threshold

MIN_ROWS = 200


class TrainingDataError(ValueError):
    """The gold table cannot train a trustworthy model; the message says why and what to do."""


@dataclass(frozen=True)
class Split:
    """Gold at one version, split by entity: what training learns from and what every judge scores on."""

    frame: pd.DataFrame
    train_idx: np.ndarray
    test_idx: np.ndarray
    gold_table: str
    gold_version: int

    def features(self, config: Config, part: str) -> pd.DataFrame:
        rows = self.train_idx if part == "train" else self.test_idx
        return self.frame.iloc[rows][config.contract.feature_names]

    def labels(self, part: str) -> np.ndarray:
        rows = self.train_idx if part == "train" else self.test_idx
        return self.frame.iloc[rows][LABEL].to_numpy()

    def slice_columns(self, config: Config) -> pd.DataFrame:
        return self.frame.iloc[self.test_idx][list(config.model.slices)]


@dataclass(frozen=True)
class TrainResult:
    model: Pipeline
    metrics: dict
    gold_table: str
    gold_version: int
    train_rows: int
    test_rows: int
    slices: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    importance: dict[str, float] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    threshold: Threshold | None = None  # binary: the decision threshold; a regression model decides nothing
    test_features: pd.DataFrame | None = None  # held-out rows: registration checks the serving scorer on them


def check_training_data(frame: pd.DataFrame, features: list[str], table: str, task: Task) -> None:
    missing = [c for c in [*features, LABEL] if c not in frame.columns]
    if missing:
        raise TrainingDataError(f"{table} lacks column(s) {missing}: rebuild gold with `mlrig features`.")
    if len(frame) < MIN_ROWS:
        raise TrainingDataError(f"{table} has {len(frame)} rows; training needs at least {MIN_ROWS}.")
    problem = task.label_problem(frame[LABEL], table)
    if problem:
        raise TrainingDataError(problem)
    empty = [c for c in features if frame[c].isna().all()]
    if empty:
        raise TrainingDataError(f"{table}: feature(s) {empty} are null in every row; check refine's quarantine.")


def split_by_entity(
    frame: pd.DataFrame, entity: str | None, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of one entity stay on one side; without an entity key every row is its own entity."""
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    groups = frame[entity] if entity else np.arange(len(frame))
    train_idx, test_idx = next(splitter.split(frame, groups=groups))
    return train_idx, test_idx


def load_split(
    lake: Lake,
    config: Config,
    gold_version: int | None = None,
    seed: int | None = None,
    test_fraction: float | None = None,
) -> Split:
    """Read gold at `gold_version` (default: current), check it, and split it as every run of it does.

    The gate passes the seed and test fraction a model recorded, so a later config edit cannot move its test rows.
    """
    contract = config.contract
    gold = lake.table("gold", features_table_name(contract))
    if not gold.exists():
        raise TrainingDataError(f"{gold.label} does not exist yet: run `mlrig features` first.")
    version = gold.version() if gold_version is None else gold_version
    frame = gold.read(version).to_pandas()
    label = f"{gold.label}@v{version}"
    check_training_data(frame, contract.feature_names, label, task_of(config))
    missing_slices = [c for c in config.model.slices if c not in frame.columns]
    if missing_slices:
        raise TrainingDataError(f"{label} lacks slice column(s) {missing_slices}: remove them from model.slices.")
    train_idx, test_idx = split_by_entity(
        frame,
        contract.entity_key,
        config.model.test_fraction if test_fraction is None else test_fraction,
        config.model.seed if seed is None else seed,
    )
    return Split(frame, train_idx, test_idx, gold.label, version)


def train(lake: Lake, config: Config, gold_version: int | None = None, params: dict | None = None) -> TrainResult:
    """Fit on most of the train part, let the task choose its decision on the rest (a binary model's threshold, on
    validation rows by `[model.threshold]`), evaluate on the test part with it; `params` override model.params."""
    split = load_split(lake, config, gold_version)
    contract, task = config.contract, task_of(config)
    policy = config.model.threshold
    train_part = split.frame.iloc[split.train_idx].reset_index(drop=True)
    fit_idx, valid_idx = split_by_entity(train_part, contract.entity_key, policy.validation_fraction, config.model.seed)
    if not task.decides:  # nothing to choose on validation rows: learn from the whole train part
        fit_idx = np.arange(len(train_part))
    x, y = train_part[contract.feature_names], train_part[LABEL]
    model = build_model(contract, config.model, **(params or {}))
    model = fit_model(model, x.iloc[fit_idx], y.iloc[fit_idx], contract)
    threshold = task.choose_decision(y.iloc[valid_idx].to_numpy(), task.predict(model, x.iloc[valid_idx]), config.model)
    x_test, y_test = split.features(config, "test"), split.labels("test")
    decision = threshold.value if threshold is not None else None
    report = task.evaluate(y_test, task.predict(model, x_test), split.slice_columns(config), decision)
    return TrainResult(
        model,
        report["metrics"],
        split.gold_table,
        split.gold_version,
        len(split.train_idx),
        len(split.test_idx),
        slices=report["slices"],
        curves=report["curves"],
        importance=global_importance(model, x_test, contract),
        params={**config.model.params, **(params or {})},
        threshold=threshold,
        test_features=x_test,
    )
