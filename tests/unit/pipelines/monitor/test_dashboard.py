from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess

import numpy as np
import polars as pl
import pytest

from pipelines.monitor.dashboard import DashboardInputs, business_table, render_dashboard
from pipelines.monitor.outcomes import join_outcomes, performance_by_window


@pytest.fixture
def inputs() -> DashboardInputs:
    rng = np.random.default_rng(0)
    rows = 1500
    start = dt.datetime(2026, 11, 1)
    predictions = pl.DataFrame(
        {
            "request_key": [f"k{i}" for i in range(rows)],
            "variant": rng.choice(["champion", "challenger"], rows, p=[0.8, 0.2]),
            "probability": rng.beta(2, 5, rows),
            "latency_ms": rng.gamma(2, 2, rows),
            "monthly_charges": rng.uniform(10, 90, rows),
            "logged_at": [start + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 2 * 24 * 60, rows)],
        }
    )
    labels = pl.DataFrame(
        {
            "request_key": predictions["request_key"],
            "label": (rng.random(rows) < predictions["probability"].to_numpy()).astype(int),
        }
    )
    joined = join_outcomes(predictions, labels)
    drift = pl.DataFrame(
        {
            "run_at": [start, start, start + dt.timedelta(days=1), start + dt.timedelta(days=1)],
            "feature": ["plan", "tenure_months"] * 2,
            "psi": [0.01, 0.02, 0.35, 0.03],
            "drifted": [False, False, True, False],
        }
    )
    return DashboardInputs(predictions, drift, performance_by_window(joined), joined, "monthly_charges", 12)


def test_business_table_counts_caught_churners_and_their_value(inputs):
    table = business_table(inputs.outcomes, "monthly_charges", 12)
    joined = inputs.outcomes
    caught = joined.filter((pl.col("probability") >= 0.5) & (pl.col("label") == 1))
    assert table["churners_caught"].sum() == caught.height
    assert table["value_at_stake"].sum() == pytest.approx(caught["monthly_charges"].sum() * 12)


def test_dashboard_is_one_self_contained_page_with_every_section(inputs, tmp_path):
    page = render_dashboard(inputs, "churn monitoring", tmp_path / "dashboard.html").read_text()
    for section in (
        "Predictions per hour",
        "Model latency",
        "Traffic split",
        "Drift",
        "Performance on real outcomes",
        "Churners caught",
    ):
        assert section in page
    assert '<div class="kpi">drift<b>plan</b></div>' in page  # the latest run's drifted feature, by name
    assert not re.search(r'<script[^>]+src="http', page), "the page must not load scripts from the network"


CHROMIUM = shutil.which("chromium")


def test_dashboard_renders_its_charts_in_a_real_browser_without_console_errors(inputs, tmp_path):
    assert CHROMIUM, "chromium is missing: `make monitor-setup` installs it"
    page = render_dashboard(inputs, "churn monitoring", tmp_path / "dashboard.html")
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rendered_charts = result.stdout.count('class="main-svg"')
    assert rendered_charts >= 2 * 6  # plotly draws two SVG layers per chart once its script has run
    # Chromium logs every console message (errors, uncaught exceptions, warnings) as INFO:CONSOLE; the page logs none.
    console_messages = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console_messages == []
