"""The regression task: metrics in the target's unit, lift over the trivial constants with a bootstrap lower bound,
gate rules that know RMSE falls as a model improves, a compiled serving scorer with the identity link."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from pipelines.config import ConfigError
from pipelines.ml.gate import judge
from pipelines.ml.scorer import MAX_SCORER_GAP, agreement, compile_pipeline
from pipelines.tasks import get_task, improvement, task_of
from pipelines.tasks.regression import REGRESSION, lift_bounds, regression_metrics, residual_drift

ALL = {"rmse": 0.95, "mae": 0.95, "r2": 0.95}


def _rows(n: int, signal: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A target that the prediction explains by `signal` (0: a prediction with no relation to it)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 100 + 20 * x + rng.normal(scale=10, size=n)
    return y, 100 + signal * 20 * x + (1 - signal) * 20 * rng.normal(size=n)


def test_metrics_are_sklearns_and_r2_is_undefined_on_a_constant_target():
    y, p = _rows(500, 0.9, 1)
    found = regression_metrics(y, p)
    assert found["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, p)))
    assert found["mae"] == pytest.approx(mean_absolute_error(y, p))
    assert found["r2"] == pytest.approx(r2_score(y, p))
    assert regression_metrics(np.full(5, 3.0), np.arange(5.0))["r2"] is None


def test_a_real_signal_clears_the_lift_bound_and_a_constant_or_noise_does_not():
    y, p = _rows(800, 0.8, 2)
    good = lift_bounds(y, p, ALL, rounds=300)
    assert all(lift.lower_bound > 0 for lift in good.values()), good
    assert good["rmse"].baseline == pytest.approx(np.std(y))  # the mean predictor's RMSE on these rows
    assert good["mae"].baseline == pytest.approx(np.mean(np.abs(y - np.median(y))))
    constant = lift_bounds(y, np.full_like(y, y.mean()), ALL, rounds=300)
    assert not constant["rmse"].lower_bound > 0 and not constant["r2"].lower_bound > 0
    noise = lift_bounds(*_rows(800, 0.0, 3), ALL, rounds=300)
    assert not any(lift.lower_bound > 0 for lift in noise.values()), noise


def test_lower_is_better_metrics_are_compared_the_right_way_round(config):
    assert improvement(REGRESSION, "rmse", 9.0, 10.0) == pytest.approx(1.0)
    assert improvement(REGRESSION, "r2", 0.7, 0.8) == pytest.approx(-0.1)
    gate = config.gate.model_copy(
        update={"min_metrics": {"r2": 0.5}, "max_metrics": {"rmse": 12.0}, "max_regression": {"rmse": 0.5}}
    )
    report = {"metrics": {"rmse": 11.0, "mae": 8.0, "r2": 0.6}, "slices": {}}
    champion = {"metrics": {"rmse": 10.0, "mae": 8.0, "r2": 0.7}}
    latency = {"p99_row_ms": 1, "p99_batch_ms": 1, "batch_rows": 10}
    rules = {r.name: r for r in judge(report, champion, latency, gate, REGRESSION)}
    assert rules["r2 ≥ minimum"].passed and rules["rmse ≤ maximum"].passed
    assert not rules["rmse vs champion"].passed and rules["rmse vs champion"].value == pytest.approx(-1.0)


def test_slice_gaps_name_the_worst_group_by_the_metrics_direction(config):
    gate = config.gate.model_copy(update={"min_metrics": {}, "max_slice_gap": {"rmse": 1.0}, "min_slice_rows": 1})
    slices = {"cut": {"Fair": {"rmse": 15.0, "test_rows": 50}, "Ideal": {"rmse": 9.0, "test_rows": 50}}}
    report = {"metrics": {"rmse": 10.0}, "slices": slices}
    latency = {"p99_row_ms": 1, "p99_batch_ms": 1, "batch_rows": 10}
    gap = next(r for r in judge(report, None, latency, gate, REGRESSION) if r.name == "rmse gap by cut")
    assert not gap.passed and gap.value == pytest.approx(6.0) and gap.detail.startswith("Ideal 9.000, Fair 15.000")


def test_a_floor_on_rmse_or_a_classifier_metric_is_refused_for_a_regression(config):
    contract = config.contract.model_copy(update={"task": "regression", "positive_class": None})
    for rules, says in (
        ({"min_metrics": {"rmse": 1.0}}, r"gate.min_metrics: \['rmse'\] is lower-is-better"),
        ({"min_metrics": {"roc_auc": 0.7}}, r"unknown metric\(s\) \['roc_auc'\] for task 'regression'"),
    ):
        clean = {"max_regression": {}, "max_slice_gap": {}, "min_lift": {}, "lift_confidence": {}, **rules}
        bad = config.model_copy(update={"contract": contract, "gate": config.gate.model_copy(update=clean)})
        with pytest.raises(ConfigError, match=says):
            task_of(bad)


def test_residual_drift_is_small_for_the_same_errors_and_large_for_shifted_ones():
    rng = np.random.default_rng(4)
    reference = np.quantile(rng.normal(size=5000), np.linspace(0, 1, 300))
    assert residual_drift(rng.normal(size=400), reference) < 0.1
    assert residual_drift(rng.normal(loc=1.0, size=400), reference) > 0.3


def test_the_compiled_scorer_serves_a_regressors_values_through_the_identity_link():
    from lightgbm import LGBMRegressor
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"size": rng.random(600) * 3, "grade": rng.choice(["A", "B", "C"], 600)})
    target = 1000 * frame["size"] + frame["grade"].map({"A": 500, "B": 0, "C": -300}) + rng.normal(0, 50, 600)
    prepare = ColumnTransformer(
        [("categories", OrdinalEncoder(categories=[["A", "B", "C"]]), ["grade"]), ("numbers", "passthrough", ["size"])],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    types = FunctionTransformer(lambda f: f, feature_names_out="one-to-one").set_output(transform="pandas")
    pipeline = Pipeline(
        [("types", types), ("prepare", prepare), ("regress", LGBMRegressor(n_estimators=50, verbose=-1))]
    ).fit(frame, target)
    scorer = compile_pipeline(pipeline)
    assert scorer.link == "identity"
    checked = agreement(scorer, pipeline, frame.head(200))
    assert checked["max_abs_diff"] <= MAX_SCORER_GAP
    assert float(scorer.score_records([frame.iloc[0].to_dict()])[0]) > 10  # a price, not a probability


def test_the_task_registry_knows_both_tasks_and_refuses_others():
    assert get_task("binary").metrics["log_loss"] == "lower" and get_task("regression").metrics["r2"] == "higher"
    with pytest.raises(ConfigError, match="not a task"):
        get_task("multiclass")
