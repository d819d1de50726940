"""Lift over the trivial baseline with a bootstrap lower bound: exact on the test rows, passes a weak real signal,
refuses none, and shrinks its margin as the test set grows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, roc_auc_score

from pipelines.tasks.binary.lift import lift_bounds, trivial_baseline

ALL = {"roc_auc": 0.95, "f1": 0.95, "precision": 0.95, "accuracy": 0.95}


def _rare(rows: int, signal: float, seed: int, rate: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """A 5 % positive class; scores shifted up for positives by `signal` standard deviations (0: no signal)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < rate).astype(int)
    return labels, rng.normal(size=rows) + signal * labels


def test_point_values_are_the_metrics_on_the_test_rows_ties_included():
    labels, scores = _rare(2000, 0.8, seed=1)
    scores = np.round(scores, 1)  # many ties: AUC counts them half
    lifts = lift_bounds(labels, scores, 0.5, ALL, rounds=200)
    flagged = scores >= 0.5
    assert lifts["roc_auc"].value == pytest.approx(roc_auc_score(labels, scores))
    assert lifts["f1"].value == pytest.approx(f1_score(labels, flagged))
    assert lifts["precision"].value == pytest.approx(precision_score(labels, flagged))
    assert lifts["accuracy"].value == pytest.approx(accuracy_score(labels, flagged))
    rate = labels.mean()
    assert lifts["f1"].baseline == pytest.approx(f1_score(labels, np.ones_like(labels)))
    assert lifts["precision"].baseline == pytest.approx(rate)
    assert lifts["accuracy"].baseline == pytest.approx(1 - rate)


def test_a_weak_real_signal_clears_the_bound_and_no_signal_does_not():
    """ROC AUC about 0.63, like the lending book's model, on 2,000 test rows with ~100 positives."""
    auc = {"roc_auc": 0.95}
    weak = [lift_bounds(*_rare(2000, 0.45, seed), 0.5, auc, rounds=500)["roc_auc"] for seed in range(6)]
    assert all(lift.lower_bound > 0 for lift in weak), [round(lift.value, 3) for lift in weak]
    none = [lift_bounds(*_rare(2000, 0.0, seed), 0.5, auc, rounds=500)["roc_auc"] for seed in range(20)]
    passed = sum(lift.lower_bound > 0 for lift in none)
    assert passed <= 3, f"{passed} of 20 no-signal models passed a 95 % bound"  # one expected by chance


def test_the_bound_tightens_with_more_test_rows():
    small = lift_bounds(*_rare(500, 0.45, seed=3), 0.5, {"roc_auc": 0.95}, rounds=500)["roc_auc"]
    large = lift_bounds(*_rare(8000, 0.45, seed=3), 0.5, {"roc_auc": 0.95}, rounds=500)["roc_auc"]
    assert (large.value - 0.5) - large.lower_bound < (small.value - 0.5) - small.lower_bound


def test_a_constant_score_lifts_nothing():
    labels, _ = _rare(1000, 0.0, seed=4)
    lifts = lift_bounds(labels, np.full(1000, 0.3), 0.5, {"roc_auc": 0.95, "f1": 0.5})
    assert lifts["roc_auc"].lower_bound == 0.0  # exactly chance: the gate requires more than 0
    assert lifts["f1"].value == 0.0 and lifts["f1"].lower_bound < 0


def test_one_class_in_the_test_rows_is_undefined_not_a_pass():
    lift = lift_bounds(np.zeros(50, dtype=int), np.linspace(0, 1, 50), 0.5, {"roc_auc": 0.95})["roc_auc"]
    assert np.isnan(lift.lower_bound)


def test_recall_has_no_trivial_baseline():
    with pytest.raises(ValueError, match="no trivial baseline"):
        trivial_baseline("recall", 0.1)
