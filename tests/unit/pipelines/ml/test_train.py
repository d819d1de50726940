from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.data.features import LABEL, features_table_name
from pipelines.ml.model import positive_probability
from pipelines.ml.train import TrainingDataError, check_training_data, split_by_entity, train
from pipelines.tasks.binary import BINARY


def test_train_learns_signal_and_reports_metrics(gold_lake, config):
    result = train(gold_lake, config)
    assert result.metrics["roc_auc"] > 0.7  # the demo label depends on the features
    assert {"accuracy", "precision", "recall", "f1", "confusion_matrix"} <= set(result.metrics)
    assert result.test_rows == sum(result.metrics["confusion_matrix"].values())
    assert result.gold_version == gold_lake.table("gold", features_table_name(config.contract)).version()


def test_same_data_same_seed_same_model(gold_lake, config):
    first, second = train(gold_lake, config), train(gold_lake, config)
    assert first.metrics == second.metrics


def test_split_keeps_each_entity_on_one_side(contract):
    frame = pd.DataFrame({contract.entity_key: np.repeat(np.arange(100), 3), "x": range(300)})
    train_idx, test_idx = split_by_entity(frame, contract.entity_key, 0.2, seed=1)
    train_ids = set(frame.iloc[train_idx][contract.entity_key])
    test_ids = set(frame.iloc[test_idx][contract.entity_key])
    assert not train_ids & test_ids
    assert len(test_ids) == 20


def test_model_scores_unseen_categories_and_missing_values(gold_lake, config):
    model = train(gold_lake, config).model
    row = {c.name: None for c in config.contract.features}
    row.update(country="XX", plan="basic", contract_type="monthly", payment_method="card")
    scores = positive_probability(model, pd.DataFrame([row]))
    assert 0 <= scores[0] <= 1


@pytest.fixture
def good_frame(contract):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({c: rng.random(300) for c in contract.feature_names})
    frame[LABEL] = np.tile([0, 1], 150)
    return frame


def test_too_few_rows_is_refused(good_frame, contract):
    with pytest.raises(TrainingDataError, match="at least 200"):
        check_training_data(good_frame.head(50), contract.feature_names, "gold/x", BINARY)


def test_one_class_is_refused(good_frame, contract):
    good_frame[LABEL] = 0
    with pytest.raises(TrainingDataError, match="class counts"):
        check_training_data(good_frame, contract.feature_names, "gold/x", BINARY)


def test_missing_feature_is_named(good_frame, contract):
    with pytest.raises(TrainingDataError, match="plan"):
        check_training_data(good_frame.drop(columns="plan"), contract.feature_names, "gold/x", BINARY)


def test_all_null_feature_is_named(good_frame, contract):
    good_frame["logins_30d"] = np.nan
    with pytest.raises(TrainingDataError, match="logins_30d"):
        check_training_data(good_frame, contract.feature_names, "gold/x", BINARY)


def test_train_without_gold_says_what_to_run(work_dir, lake, config):
    with pytest.raises(TrainingDataError, match="mlrig features"):
        train(lake, config)
