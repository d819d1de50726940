from __future__ import annotations

import re

import pytest

from pipelines.data.features import build_gold
from pipelines.data.ingest import ingest
from pipelines.data.refine import refine
from pipelines.data.report import MAX_QUARANTINE_SHARE, ReportError, write_report
from pipelines.demo import generate_raw_drops
from tests.conftest import TEST_PII_KEY


def refined(config, lake, dirt_rate):
    generate_raw_drops(config.contract, config.raw_dir, rows=800, days=1, seed=21, dirt_rate=dirt_rate)
    ingest(config.raw_dir, lake, config.contract)
    refine(lake, config.contract, TEST_PII_KEY)
    build_gold(lake, config.contract)


def test_report_is_one_self_contained_html_with_every_section(work_dir, lake, config):
    refined(config, lake, dirt_rate=0.01)
    result = write_report(lake, config.contract, config.reports_dir)
    html = result.path.read_text(encoding="utf-8")
    assert result.path.parent == config.reports_dir and result.run_id in result.path.name
    assert result.fit and "Fit for modeling" in html
    for section in ("Schema", "Association with the target", "Contract violations", "Row accounting", "Distributions"):
        assert f"<h2>{section}" in html
    assert len(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', html)) == len(
        config.contract.feature_names
    )
    assert not re.search(r'(src|href)="(https?:|/)', html)  # nothing fetched from elsewhere
    assert "tenure_months: less_than_or_equal_to(600" in html  # a planted violation, by rule


def test_a_mostly_quarantined_source_is_judged_not_fit_with_the_reason(work_dir, lake, config):
    refined(config, lake, dirt_rate=0.2)
    result = write_report(lake, config.contract, config.reports_dir)
    assert not result.fit
    assert any(f"limit {MAX_QUARANTINE_SHARE:.0%}" in r for r in result.reasons)
    assert "Not fit for modeling" in result.path.read_text(encoding="utf-8")


def test_report_before_refine_says_what_to_run(work_dir, lake, config):
    with pytest.raises(ReportError, match="mlrig refine"):
        write_report(lake, config.contract, config.reports_dir)
