"""The smoke report's arithmetic and verdict (the HTTP side runs against a real server in integration)."""

from __future__ import annotations

import math

from pipelines.release.smoke import SmokeReport, percentile


def test_p99_of_fifty_samples_is_the_slowest() -> None:
    samples = [float(n) for n in range(1, 51)]
    assert percentile(samples, 99) == 50.0
    assert percentile(samples, 50) == 25.0


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 99))


def test_a_report_over_budget_fails_and_says_which_key_to_raise() -> None:
    report = SmokeReport(url="http://x", requests=2, latencies_ms=[10.0, 300.0], p99_budget_ms=250)
    assert report.too_slow and not report.passed
    assert "release.p99_budget_ms" in report.summary()


def test_a_report_with_missing_answers_fails_even_when_fast() -> None:
    report = SmokeReport(url="http://x", requests=3, latencies_ms=[1.0, 1.0], p99_budget_ms=250)
    assert not report.passed


def test_a_clean_fast_report_passes() -> None:
    report = SmokeReport(url="http://x", requests=2, latencies_ms=[1.0, 2.0], p99_budget_ms=250)
    assert report.passed and report.summary().startswith("smoke passed")


def test_the_summary_caps_the_failure_list() -> None:
    report = SmokeReport(url="http://x", requests=20, failures=[f"request {n}: 500" for n in range(15)])
    assert "… and 5 more failures" in report.summary()
