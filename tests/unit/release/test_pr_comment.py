"""PR comment sections from files shaped as the tools write them; missing inputs are named, never invented."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.release.pr_comment import gate_lines, preview_section
from pipelines.release.pr_comment import tests_section as render_tests  # a `test*` name would be collected


def test_missing_reports_are_named(tmp_path: Path) -> None:
    lines = render_tests(tmp_path / "junit.xml", tmp_path / "coverage.xml")
    assert "no test report" in lines[1] and "no coverage report" in lines[2]


def test_no_gate_verdict_file_says_so(tmp_path: Path) -> None:
    assert gate_lines(tmp_path / "gate.json") == [f"**Gate:** no gate verdict ({tmp_path / 'gate.json'} is missing)"]


def test_a_failed_gate_shows_its_reasons(tmp_path: Path) -> None:
    path = tmp_path / "gate.json"
    path.write_text(json.dumps({"passed": False, "reasons": ["roc_auc 0.61 < champion 0.70 - 0.01"]}))
    assert gate_lines(path) == ["**Gate:** fail", "- roc_auc 0.61 < champion 0.70 - 0.01"]


def test_a_gate_verdict_with_named_checks(tmp_path: Path) -> None:
    path = tmp_path / "gate.json"
    path.write_text(json.dumps({"verdict": "promote", "checks": {"roc_auc": "ok", "latency": "ok"}}))
    assert gate_lines(path) == ["**Gate:** promote", "- roc_auc: ok", "- latency: ok"]


def test_preview_summary_per_project(tmp_path: Path) -> None:
    (tmp_path / "serving.json").write_text(json.dumps({"steps": [], "changeSummary": {"create": 3, "same": 2}}))
    (tmp_path / "platform.json").write_text("error: no stack named 'staging'")
    lines = preview_section(tmp_path)
    assert "| serving | 3 | 0 | 0 | 0 | 2 |" in lines
    assert any(line.startswith("| platform | preview output is not JSON") for line in lines)


def test_no_preview_files_is_a_visible_notice(tmp_path: Path) -> None:
    assert "no preview" in preview_section(tmp_path / "absent")[1]
