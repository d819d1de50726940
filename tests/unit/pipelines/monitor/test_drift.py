from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pipelines.config import MonitoringSettings
from pipelines.monitor.drift import (
    DriftInputError,
    categorical_drift,
    detect_drift,
    numeric_drift,
    population_stability_index,
)


def test_same_law_no_flag(contract, sampler):
    report = detect_drift(sampler(3000, 1), sampler(3000, 2), contract, MonitoringSettings())
    assert report.enough_data
    assert report.drifted == []
    assert len(report.features) == len(contract.features)


def test_planted_drift_flags_exactly_the_drifted_features(contract, sampler):
    window = sampler(3000, 2).with_columns(
        pl.col("monthly_charges") * 1.6,
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(pl.lit("premium")).otherwise(pl.col("plan")).alias("plan"),
    )
    report = detect_drift(sampler(3000, 1), window, contract, MonitoringSettings())
    assert report.drifted == ["plan", "monthly_charges"]


def test_a_feature_arriving_empty_has_drifted(contract, sampler):
    window = sampler(3000, 2).with_columns(pl.lit(None, dtype=pl.Float64).alias("avg_session_minutes"))
    window = window.with_columns(
        pl.when(pl.int_range(pl.len()) < 10)
        .then(1.0)
        .otherwise(pl.col("avg_session_minutes"))
        .alias("avg_session_minutes")
    )
    report = detect_drift(sampler(3000, 1), window, contract, MonitoringSettings())
    assert report.drifted == ["avg_session_minutes"]


def test_per_feature_limit_overrides_the_default(contract, sampler):
    window = sampler(3000, 2).with_columns(pl.col("monthly_charges") * 1.6)
    settings = MonitoringSettings(features={"monthly_charges": {"psi_max": 50, "ks_max": 0.99}})
    assert detect_drift(sampler(3000, 1), window, contract, settings).drifted == []


def test_small_window_gives_no_verdict(contract, sampler):
    window = sampler(50, 2).with_columns(pl.col("monthly_charges") * 3)
    report = detect_drift(sampler(3000, 1), window, contract, MonitoringSettings(min_window_rows=200))
    assert not report.enough_data
    assert report.drifted == []
    assert report.features  # statistics are still shown


def test_score_column_is_compared_when_present(contract, sampler):
    rng = np.random.default_rng(0)
    reference = sampler(2000, 1).with_columns(pl.Series("probability", rng.beta(2, 5, 2000)))
    window = sampler(2000, 2).with_columns(pl.Series("probability", rng.beta(5, 2, 2000)))
    report = detect_drift(reference, window, contract, MonitoringSettings(), score_column="probability")
    assert report.drifted == ["probability"]


def test_missing_feature_is_named(contract, sampler):
    with pytest.raises(DriftInputError, match="plan"):
        detect_drift(sampler(100, 1), sampler(100, 2).drop("plan"), contract, MonitoringSettings())


def test_psi_is_zero_for_identical_and_grows_with_shift():
    same = np.array([0.25, 0.25, 0.5])
    assert population_stability_index(same, same) == 0
    assert population_stability_index(same, np.array([0.2, 0.3, 0.5])) < population_stability_index(
        same, np.array([0.05, 0.45, 0.5])
    )


def test_numeric_statistics_match_scipy_reading():
    rng = np.random.default_rng(3)
    stats = numeric_drift(rng.normal(0, 1, 5000), rng.normal(1, 1, 5000))
    assert stats["wasserstein_std"] == pytest.approx(1.0, abs=0.1)
    assert stats["ks"] == pytest.approx(0.38, abs=0.05)  # sup |Φ(x) − Φ(x−1)| = 2Φ(0.5) − 1 ≈ 0.383


def test_categorical_unknown_values_count_as_missing():
    stats = categorical_drift(["a", "b"] * 100, ["zzz"] * 200, ("a", "b"))
    assert stats["js"] == pytest.approx(1.0)
    assert stats["chi2_pvalue"] < 1e-10
