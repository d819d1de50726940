from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.config import MonitoringSettings
from pipelines.monitor.drift import DriftReport, FeatureDrift
from pipelines.monitor.trigger import decide


def _drift(*drifted: str, enough: bool = True) -> DriftReport:
    features = [
        FeatureDrift("plan", "categorical", {"psi": 0.5}, ["psi 0.5 > 0.2"] if "plan" in drifted else []),
        FeatureDrift("tenure_months", "numeric", {"psi": 0.01}),
    ]
    return DriftReport(1000, 1000, features, enough)


def _performance(*aucs: float) -> pl.DataFrame:
    days = [dt.datetime(2026, 11, d + 1) for d in range(len(aucs))]
    return pl.DataFrame({"window": days, "roc_auc": list(aucs)})


def test_quiet_data_and_steady_performance_do_not_retrain():
    assert not decide(_drift(), _performance(0.82, 0.81), MonitoringSettings(), 0.82).retrain


def test_drift_triggers_and_names_the_feature():
    decision = decide(_drift("plan"), None, MonitoringSettings(), None)
    assert decision.retrain and decision.reasons == ["drift in plan"]


def test_drift_on_too_small_a_window_does_not_trigger():
    assert not decide(_drift("plan", enough=False), None, MonitoringSettings(), None).retrain


def test_performance_drop_in_the_latest_window_triggers():
    decision = decide(_drift(), _performance(0.82, 0.74), MonitoringSettings(), 0.82)
    assert decision.retrain
    assert "fell 0.080" in decision.reasons[0]


def test_auc_below_the_floor_triggers_even_without_a_training_reference():
    decision = decide(None, _performance(0.65), MonitoringSettings(min_roc_auc=0.7), None)
    assert decision.reasons == ["ROC AUC 0.650 < minimum 0.7"]
