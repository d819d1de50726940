from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from pipelines.monitor.outcomes import OutcomesError, compare_variants, join_outcomes, performance_by_window


def served(rows: int, seed: int, noise: dict[str, float]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Scores = true risk + variant-specific noise; labels drawn from the true risk."""
    rng = np.random.default_rng(seed)
    risk = rng.beta(2, 5, rows)
    variant = rng.choice(sorted(noise), rows)
    scale = np.array([noise[v] for v in variant])
    score = np.clip(risk + rng.normal(0, 1, rows) * scale, 0.001, 0.999)
    start = dt.datetime(2026, 11, 1)
    predictions = pl.DataFrame(
        {
            "request_key": [f"k{i}" for i in range(rows)],
            "variant": variant,
            "probability": score,
            "logged_at": [start + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 3 * 24 * 60, rows)],
        }
    )
    labels = pl.DataFrame(
        {"request_key": [f"k{i}" for i in range(rows)], "label": (rng.random(rows) < risk).astype(int)}
    )
    return predictions, labels


def test_planted_difference_between_variants_is_found():
    predictions, labels = served(4000, 1, {"champion": 0.02, "challenger": 0.25})
    verdict = compare_variants(join_outcomes(predictions, labels), alpha=0.05)
    assert verdict.better == "champion"
    assert verdict.p_value < 0.001
    assert "champion is better" in verdict.sentence()


def test_no_difference_is_mostly_not_significant_at_the_stated_rate():
    """Under no difference a 5 % test still cries wolf 1 time in 20: check the rate, not one lucky seed."""
    verdicts = [
        compare_variants(join_outcomes(*served(2000, seed, {"champion": 0.05, "challenger": 0.05})), 0.05)
        for seed in range(60)
    ]
    false_alarms = sum(v.significant for v in verdicts)
    assert false_alarms <= 8  # Binomial(60, 0.05): mean 3, P(X > 8) < 0.5 %
    quiet = next(v for v in verdicts if not v.significant)
    assert quiet.sentence().startswith("not significant")


def test_join_keeps_only_predictions_with_an_outcome():
    predictions, labels = served(100, 3, {"a": 0.1})
    joined = join_outcomes(predictions, labels.head(60))
    assert joined.height == 60
    assert set(joined["request_key"]) == set(labels.head(60)["request_key"])


def test_performance_per_day_and_variant():
    predictions, labels = served(3000, 4, {"champion": 0.02, "challenger": 0.3})
    table = performance_by_window(join_outcomes(predictions, labels), every="1d")
    assert table.height == 6  # three days × two variants
    assert table["outcomes"].sum() == 3000
    by_variant = table.group_by("variant").agg(pl.col("roc_auc").mean()).sort("variant")
    assert by_variant["roc_auc"].to_list()[1] > by_variant["roc_auc"].to_list()[0]  # champion > challenger


def test_missing_columns_are_named():
    predictions, labels = served(10, 5, {"a": 0.1})
    with pytest.raises(OutcomesError, match="request_key"):
        join_outcomes(predictions.drop("request_key"), labels)


def test_verdict_needs_two_variants():
    predictions, labels = served(100, 6, {"a": 0.1})
    with pytest.raises(OutcomesError, match="exactly two"):
        compare_variants(join_outcomes(predictions, labels), alpha=0.05)


def test_a_relabelled_request_counts_once_with_its_latest_recorded_label():
    predictions, _ = served(3, 4, {"a": 0.1})
    at = [dt.datetime(2026, 12, d) for d in (3, 1, 2)]
    labels = pl.DataFrame({"request_key": ["k0", "k0", "k0"], "label": [1, 0, 0], "recorded_at": at})
    joined = join_outcomes(predictions, labels)
    assert joined.height == 1 and joined["label"].to_list() == [1]
