"""`make data-check`, the pull-request workflows' data step, as they call it: a contract that would quarantine more
than `[quality] max_quarantine_share` of the sample fails the step, naming the rule that does it, and writes no
silver. (The passing run is the workflow's own step, and `test_walking_skeleton` covers the same stages.)"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from pipelines.lake import Lake
from tests.conftest import PROJECT_ROOT, TEST_PII_KEY

pytestmark = pytest.mark.integration


def test_data_check_fails_naming_the_rule_when_the_sample_breaks_the_quarantine_limit(tmp_path):
    text = (PROJECT_ROOT / "mlrig.toml").read_text(encoding="utf-8")
    # A bound a contract author got wrong: most customers stay longer than a year.
    text, found = re.subn(r"(\[contract\.columns\.tenure_months\][^\[]*?)max = \d+", r"\1max = 12", text)
    assert found == 1
    config = tmp_path / "mlrig.toml"
    config.write_text(text, encoding="utf-8")
    work = tmp_path / "ci-work"
    env = {**os.environ, "MLRIG_CONFIG": str(config), "MLRIG_PII_KEY": TEST_PII_KEY, "NO_COLOR": "1"}
    run = subprocess.run(
        ["make", "--no-print-directory", "data-check", f"CI_WORK={work}", "CI_ROWS=600"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = " ".join((run.stdout + run.stderr).split())
    assert run.returncode != 0, output
    assert "[quality] max_quarantine_share" in output, output
    assert "`tenure_months: less_than_or_equal_to(12" in output, output  # the rule, named
    assert "mlrig features" not in output  # the step stopped at refine
    assert not Lake(str(work / "lake")).table("silver", "customers").exists()  # nothing written
