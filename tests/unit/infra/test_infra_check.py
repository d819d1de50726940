"""Rendering every declared Kubernetes object to YAML, kubernetes-validate strict, and the checkov summary."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest
import yaml

from infra import check


def test_every_declared_object_is_valid_kubernetes_strict(stack_runs):
    count = 0
    for run in stack_runs.values():
        for d in run.mocks.kubernetes_objects():
            check.validate(d.manifest())
            count += 1
    assert count >= 90


def test_an_unknown_field_is_refused_in_strict_mode(stack_runs):
    manifest = stack_runs[("serving", "prod")].mocks.only("apps/v1:Deployment").manifest()
    manifest["spec"]["template"]["spec"]["containers"][0]["resource"] = {}  # a typo of `resources`
    with pytest.raises(kubernetes_validate.ValidationError, match="resource"):
        check.validate(manifest)


def test_render_writes_one_file_per_program_run(tmp_path, capsys):
    assert check.main([str(tmp_path)]) == 0
    files = sorted(p.name for p in tmp_path.glob("*.yaml"))
    assert len(files) == 12 and "serving-prod.yaml" in files
    objects = list(yaml.safe_load_all((tmp_path / "serving-prod.yaml").read_text()))
    assert {o["kind"] for o in objects} >= {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    assert "objects valid" in capsys.readouterr().out


def test_checkov_summary_counts_failures_and_lists_each_skip_with_its_reason(tmp_path, capsys):
    report = tmp_path / "checkov.json"
    config = tmp_path / "checkov.yaml"
    config.write_text("skip-check:\n  - CKV_K8S_15  # images are immutable\n")
    failed = {"check_id": "CKV_K8S_8", "resource": "Deployment.ns.x", "file_path": "/x.yaml", "check_name": "probe"}
    report.write_text(
        json.dumps({"summary": {"passed": 10, "failed": 1, "skipped": 0}, "results": {"failed_checks": [failed]}})
    )
    assert check.main(["--checkov-report", str(report), str(config)]) == 1
    out = capsys.readouterr().out
    assert "10 passed, 1 failed" in out and "CKV_K8S_15: images are immutable" in out and "FAILED CKV_K8S_8" in out
    report.write_text(json.dumps([{"summary": {"passed": 10, "failed": 0, "skipped": 0}, "results": {}}]))
    assert check.main(["--checkov-report", str(report), str(config)]) == 0
