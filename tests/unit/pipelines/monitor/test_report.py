from __future__ import annotations

import polars as pl

from pipelines.config import MonitoringSettings
from pipelines.monitor.drift import detect_drift
from pipelines.monitor.report import render_report
from pipelines.monitor.trigger import decide


def test_report_leads_with_the_decision_and_shows_every_feature(contract, sampler, tmp_path):
    reference = sampler(2000, 1)
    window = sampler(2000, 2).with_columns(pl.col("logins_30d") * 3)
    drift = detect_drift(reference, window, contract, MonitoringSettings())
    decision = decide(drift, None, MonitoringSettings(), None)
    page = render_report(
        drift, reference, window, contract, decision, None, None, tmp_path / "r.html", "drift report"
    ).read_text()
    assert "Retrain: drift in logins_30d" in page
    assert page.count("<img") == len(contract.features)
    assert page.index("Retrain") < page.index("<img")  # the decision comes before the evidence
    for feature in contract.feature_names:
        assert f"<td>{feature}</td>" in page


def test_quiet_window_says_no_action(contract, sampler, tmp_path):
    reference, window = sampler(2000, 1), sampler(2000, 2)
    drift = detect_drift(reference, window, contract, MonitoringSettings())
    page = render_report(
        drift,
        reference,
        window,
        contract,
        decide(drift, None, MonitoringSettings(), None),
        None,
        None,
        tmp_path / "r.html",
        "drift report",
    ).read_text()
    assert "No action" in page
