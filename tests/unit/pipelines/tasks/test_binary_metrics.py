"""Evaluation beyond the headline: calibration, confusion matrix, per-slice metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.tasks.binary.metrics import calibration, classification_metrics, evaluate, slice_metrics


def test_brier_is_zero_for_certain_right_answers_and_one_for_certain_wrong_ones():
    labels = np.array([0, 1, 0, 1])
    assert classification_metrics(labels, labels.astype(float))["brier"] == 0
    assert classification_metrics(labels, 1 - labels.astype(float))["brier"] == 1


def test_calibrated_scores_lie_on_the_diagonal():
    rng = np.random.default_rng(0)
    scores = rng.random(20_000)
    labels = (rng.random(20_000) < scores).astype(int)  # the score is the true probability
    curve = calibration(labels, scores)
    assert np.allclose(curve["predicted"], curve["observed"], atol=0.03)


def test_slices_show_the_group_the_model_fails():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 400)
    scores = np.where(np.arange(400) < 200, labels * 0.8 + 0.1, rng.random(400))  # good for A, noise for B
    groups = pd.DataFrame({"plan": ["A"] * 200 + ["B"] * 200})
    result = slice_metrics(labels, scores, groups)["plan"]
    assert result["A"]["roc_auc"] == 1.0 and result["B"]["roc_auc"] < 0.7
    assert result["A"]["test_rows"] == result["B"]["test_rows"] == 200


def test_one_class_group_has_no_roc_auc_and_nulls_form_their_own_group():
    labels, scores = np.array([1, 1, 0, 1]), np.array([0.9, 0.8, 0.2, 0.4])
    groups = pd.DataFrame({"country": ["DE", "DE", None, None]})
    result = slice_metrics(labels, scores, groups)["country"]
    assert result["DE"]["roc_auc"] is None and result["(missing)"]["roc_auc"] == 1.0


def test_evaluate_keeps_curves_small():
    rng = np.random.default_rng(2)
    report = evaluate(rng.integers(0, 2, 5000), rng.random(5000))
    assert set(report["curves"]) == {"roc", "precision_recall", "calibration"}
    assert len(report["curves"]["roc"]["fpr"]) <= 200 and report["slices"] == {}
    cm = report["metrics"]["confusion_matrix"]
    assert sum(cm.values()) == 5000
