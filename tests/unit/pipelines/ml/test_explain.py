"""Explanations: per record in contract feature names, adding up to the model's own score; global importance."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.data.features import features_table_name
from pipelines.ml.explain import explain_records, global_importance
from pipelines.ml.model import positive_probability
from pipelines.ml.train import train


@pytest.fixture(scope="module")
def trained(ml_lake, config):
    return train(ml_lake, config)


@pytest.fixture(scope="module")
def records(ml_lake, config):
    return ml_lake.table("gold", features_table_name(config.contract)).read().to_pandas().head(25)


def test_contributions_add_up_to_the_models_log_odds(trained, records, config):
    explained = explain_records(trained.model, records, config.contract)
    probability = positive_probability(trained.model, records[config.contract.feature_names])
    log_odds = np.log(probability / (1 - probability))
    totals = [e["base_log_odds"] + sum(e["contributions"].values()) for e in explained]
    assert np.allclose(totals, log_odds, atol=1e-6)
    assert all(set(e["contributions"]) == set(config.contract.feature_names) for e in explained)


def test_top_keeps_the_largest_and_sums_the_rest(trained, records, config):
    full = explain_records(trained.model, records.head(1), config.contract)[0]["contributions"]
    short = explain_records(trained.model, records.head(1), config.contract, top=3)[0]["contributions"]
    largest = sorted(full, key=lambda name: abs(full[name]), reverse=True)[:3]
    assert list(short)[:3] == largest and len(short) == 4
    assert sum(short.values()) == pytest.approx(sum(full.values()))


def test_explains_unseen_categories_and_missing_values(trained, config):
    import pandas as pd

    row = {c.name: None for c in config.contract.features}
    row.update(country="XX", plan="basic", contract_type="monthly", payment_method="card")
    explained = explain_records(trained.model, pd.DataFrame([row]), config.contract)
    assert np.isfinite(list(explained[0]["contributions"].values())).all()


def test_global_importance_ranks_every_feature(trained, records, config):
    importance = global_importance(trained.model, records, config.contract)
    assert set(importance) == set(config.contract.feature_names)
    assert list(importance.values()) == sorted(importance.values(), reverse=True)
    assert trained.importance and max(trained.importance.values()) > 0
