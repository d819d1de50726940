"""Tuning: a few trials into a study on disk, resumable and shareable, whose best parameters train a model."""

from __future__ import annotations

import pytest

from pipelines.ml.train import train
from pipelines.ml.tune import TuningError, best_params, storage_url, study_name, tune

SMALL_SPACE = {"num_leaves": (4, 16), "learning_rate": (0.05, 0.3), "n_estimators": (20, 60)}


@pytest.fixture(scope="module")
def small_config(config):
    return config.model_copy(update={"tuning": config.tuning.model_copy(update={"search_space": SMALL_SPACE})})


def test_trials_accumulate_in_one_study_and_feed_training(ml_lake, small_config):
    first = tune(ml_lake, small_config, n_trials=2)
    second = tune(ml_lake, small_config, n_trials=2)  # a second worker (or a rerun) adds to the same study
    assert (first.trials_run, second.trials_total) == (2, 4)
    assert first.storage.startswith("sqlite:///") and str(small_config.work_dir) in first.storage
    params = best_params(small_config)
    assert set(params) == set(SMALL_SPACE) and isinstance(params["num_leaves"], int)
    assert 4 <= params["num_leaves"] <= 16 and 0.05 <= params["learning_rate"] <= 0.3
    result = train(ml_lake, small_config, params=params)
    assert result.params["num_leaves"] == params["num_leaves"]
    assert result.model.named_steps["classify"].get_params()["num_leaves"] == params["num_leaves"]


def test_storage_url_from_config_is_used_as_given(small_config, tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    shared = small_config.model_copy(update={"tuning": small_config.tuning.model_copy(update={"storage": url})})
    assert storage_url(shared) == url
    assert study_name(shared) == f"{shared.model.name}-{shared.contract.fingerprint}"


def test_best_params_without_trials_says_what_to_run(work_dir, small_config):
    with pytest.raises(TuningError, match="mlrig tune"):
        best_params(small_config)


def test_empty_search_space_is_refused(ml_lake, config):
    empty = config.model_copy(update={"tuning": config.tuning.model_copy(update={"search_space": {}})})
    with pytest.raises(TuningError, match="search_space"):
        tune(ml_lake, empty, n_trials=1)
