"""The model artifact: preprocessing and the task's estimator in one scikit-learn Pipeline, saved as one object.

Encoding lives inside the artifact, so the service feeds it the contract's raw feature columns exactly as
training did: training and serving cannot drift apart. Category codes come from the contract's allowed
sets, so an unseen value is a known "missing", not a crash.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from pipelines.config import Contract, ModelSettings
from pipelines.tasks import get_task


def categorical_features(contract: Contract) -> list[str]:
    return [c.name for c in contract.features if c.dtype in ("category", "bool")]


def as_numbers(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Numeric features as float64 whatever the caller built: an all-null column arrives as `object`."""
    return frame.astype(dict.fromkeys(columns, "float64"))


def build_model(contract: Contract, settings: ModelSettings, **param_overrides: float | int | str) -> Pipeline:
    categorical = [c for c in contract.features if c.dtype == "category"]
    numeric = [c.name for c in contract.features if c.dtype in ("int", "float", "bool")]
    prepare = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(
                    categories=[list(c.allowed or ()) for c in categorical],
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                ),
                [c.name for c in categorical],
            ),
            ("numbers", "passthrough", numeric),
        ],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    task = get_task(contract.task)
    estimator = task.estimator({**settings.params, **param_overrides}, settings.seed)
    types = FunctionTransformer(as_numbers, kw_args={"columns": numeric}, feature_names_out="one-to-one")
    return Pipeline([("types", types.set_output(transform="pandas")), ("prepare", prepare), (task.step, estimator)])


def fit_model(model: Pipeline, features: pd.DataFrame, labels: pd.Series, contract: Contract) -> Pipeline:
    step = model.steps[-1][0]
    categorical = [c for c in categorical_features(contract) if c in features.columns]
    return model.fit(features, labels, **{f"{step}__categorical_feature": categorical})


def positive_probability(model: Pipeline, features: pd.DataFrame) -> np.ndarray:
    """A binary model's positive-class probability (tests and tools; stages ask the task: `task.predict`)."""
    return model.predict_proba(features)[:, 1]
