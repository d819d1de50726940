"""Train: gold/<dataset>_features at a recorded version → a fitted model and its held-out metrics.

The split is by entity (a customer is in train or test, never both), seeded, so it is the same on every
run of the same data. Bad training data is refused before any time is spent fitting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import Pipeline

from pipelines.config import Config
from pipelines.data.features import LABEL, features_table_name
from pipelines.lake import Lake
from pipelines.ml.evaluate import classification_metrics
from pipelines.ml.model import build_model, fit_model, positive_probability

MIN_ROWS = 200
MIN_PER_CLASS = 20


class TrainingDataError(ValueError):
    """The gold table cannot train a trustworthy model; the message says why and what to do."""


@dataclass(frozen=True)
class TrainResult:
    model: Pipeline
    metrics: dict
    gold_table: str
    gold_version: int
    train_rows: int
    test_rows: int


def check_training_data(frame: pd.DataFrame, features: list[str], table: str) -> None:
    missing = [c for c in [*features, LABEL] if c not in frame.columns]
    if missing:
        raise TrainingDataError(f"{table} lacks column(s) {missing}: rebuild gold with `mlrig features`.")
    if len(frame) < MIN_ROWS:
        raise TrainingDataError(f"{table} has {len(frame)} rows; training needs at least {MIN_ROWS}.")
    counts = frame[LABEL].value_counts()
    if len(counts) < 2 or counts.min() < MIN_PER_CLASS:
        raise TrainingDataError(
            f"{table} has class counts {counts.to_dict()}; each class needs at least "
            f"{MIN_PER_CLASS} rows to train and evaluate."
        )
    empty = [c for c in features if frame[c].isna().all()]
    if empty:
        raise TrainingDataError(f"{table}: feature(s) {empty} are null in every row; check refine's quarantine.")


def split_by_entity(frame: pd.DataFrame, entity: str, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    train_idx, test_idx = next(splitter.split(frame, groups=frame[entity]))
    return train_idx, test_idx


def train(lake: Lake, config: Config, gold_version: int | None = None) -> TrainResult:
    contract = config.contract
    gold = lake.table("gold", features_table_name(contract))
    if not gold.exists():
        raise TrainingDataError(f"{gold.label} does not exist yet: run `mlrig features` first.")
    version = gold.version() if gold_version is None else gold_version
    frame = gold.read(version).to_pandas()
    check_training_data(frame, contract.feature_names, f"{gold.label}@v{version}")
    train_idx, test_idx = split_by_entity(frame, contract.entity_key, config.model.test_fraction, config.model.seed)
    x, y = frame[contract.feature_names], frame[LABEL]
    model = fit_model(build_model(contract, config.model), x.iloc[train_idx], y.iloc[train_idx], contract)
    scores = positive_probability(model, x.iloc[test_idx])
    metrics = classification_metrics(y.iloc[test_idx].to_numpy(), scores)
    return TrainResult(model, metrics, gold.label, version, len(train_idx), len(test_idx))
