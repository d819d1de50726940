"""The GitHub workflows, read as data: triggers, permissions, pins, timeouts, and that every `run:` step is a
make target or `mlrig` command that exists here (so it runs on a laptop too). actionlint and zizmor run in
`make workflow-lint`; these tests hold the project's own rules."""

from __future__ import annotations

import re
import shlex

import pytest
import typer.main
import yaml

from mlrig_cli.app import app
from tests.conftest import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
SHA_PIN = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*\s*$")

# Provided by other areas' make/*.mk and command groups, being written in parallel; the lead reconciles
# names at merge, and then this list empties (a name that is now defined here is reported below).
OTHER_AREA_TARGETS: dict[str, str] = {}
OTHER_AREA_COMMANDS: dict[str, str] = {}


def _load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def _triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true


def _all() -> dict[str, dict]:
    return {path.name: _load(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def make_targets() -> set[str]:
    files = [PROJECT_ROOT / "Makefile", *sorted((PROJECT_ROOT / "make").glob("*.mk"))]
    pattern = re.compile(r"^([a-z][a-z0-9-]*):(?!=)", re.MULTILINE)
    return {target for file in files for target in pattern.findall(file.read_text(encoding="utf-8"))}


def cli_commands() -> set[str]:
    return set(typer.main.get_command(app).commands)


def _run_steps() -> list[tuple[str, str, str]]:
    return [
        (name, job_id, step["run"])
        for name, workflow in _all().items()
        for job_id, job in workflow["jobs"].items()
        for step in job["steps"]
        if "run" in step
    ]


def test_the_three_workflows_exist() -> None:
    assert set(_all()) == {"ci.yml", "cd.yml", "e2e.yml"}


def test_triggers() -> None:
    assert set(_triggers(_load("ci.yml"))) == {"pull_request", "merge_group"}
    assert _triggers(_load("cd.yml")) == {"push": {"branches": ["main"]}}
    e2e = _triggers(_load("e2e.yml"))
    assert "workflow_dispatch" in e2e and e2e["schedule"][0]["cron"]


def test_no_workflow_runs_fork_code_with_write_tokens() -> None:
    for name, workflow in _all().items():
        assert "pull_request_target" not in _triggers(workflow), name


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml", "e2e.yml"])
def test_workflows_start_with_no_permissions_and_every_job_names_its_own(name: str) -> None:
    workflow = _load(name)
    assert workflow["permissions"] == {}
    for job_id, job in workflow["jobs"].items():
        assert "permissions" in job, f"{name}: job {job_id} must list the permissions it needs"
        assert job["permissions"].get("contents") == "read", f"{name}: {job_id} needs no write to the repository"


def test_write_permissions_are_only_where_needed() -> None:
    granted = {
        (name, job_id, scope)
        for name, workflow in _all().items()
        for job_id, job in workflow["jobs"].items()
        for scope, level in job["permissions"].items()
        if level == "write"
    }
    assert granted == {
        ("ci.yml", "preview", "id-token"),
        ("ci.yml", "comment", "pull-requests"),
        ("cd.yml", "release", "packages"),
        ("cd.yml", "staging", "id-token"),
        ("cd.yml", "production", "id-token"),
    }


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml", "e2e.yml"])
def test_every_job_has_a_timeout_and_every_workflow_a_concurrency_group(name: str) -> None:
    workflow = _load(name)
    assert workflow["concurrency"]["group"]
    for job_id, job in workflow["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 60, f"{name}: {job_id}"


def test_a_release_in_progress_is_never_cancelled() -> None:
    assert _load("cd.yml")["concurrency"]["cancel-in-progress"] is False


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml", "e2e.yml"])
def test_every_action_is_pinned_by_sha_with_its_version_in_a_comment(name: str) -> None:
    lines = [line for line in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines() if "uses:" in line]
    assert lines
    for line in lines:
        assert SHA_PIN.match(line), f"{name}: not pinned by SHA with a version comment: {line.strip()}"


def test_checkout_never_leaves_the_token_on_disk() -> None:
    for name, workflow in _all().items():
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, name


def test_every_run_step_is_a_make_target_or_mlrig_command() -> None:
    targets, commands = make_targets(), cli_commands()
    for name, job_id, script in _run_steps():
        words = shlex.split(script)
        where = f"{name} ({job_id}): {script!r}"
        if words[0] == "make":
            wanted = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
            assert wanted, where
            for target in wanted:
                assert target in targets or target in OTHER_AREA_TARGETS, f"{where}: no make target {target!r}"
        else:
            assert words[0] == ".venv/bin/mlrig", f"{where}: call a make target or mlrig command"
            assert words[1] in commands or words[1] in OTHER_AREA_COMMANDS, f"{where}: no mlrig command {words[1]!r}"


def test_the_other_areas_list_only_names_not_yet_here() -> None:
    """When a listed target or command lands here, it leaves the list: the check above then covers it for real."""
    assert not set(OTHER_AREA_TARGETS) & make_targets()
    assert not set(OTHER_AREA_COMMANDS) & cli_commands()


def test_cd_gates_before_building_and_rolls_back_on_a_failed_check() -> None:
    cd = _load("cd.yml")
    release = [step.get("run", step.get("uses", "")) for step in cd["jobs"]["release"]["steps"]]
    gate = release.index(".venv/bin/mlrig gate")
    assert gate < release.index(".venv/bin/mlrig build")
    assert any(s.startswith("aquasecurity/trivy-action@") for s in release[gate:])  # the pushed image is scanned
    for stack in ("staging", "production"):
        steps = {step.get("name"): step for step in cd["jobs"][stack]["steps"]}
        rollback = steps["Roll back to the previous tag"]
        assert rollback["run"].startswith("make rollback") and "failure()" in rollback["if"]
        assert cd["jobs"][stack]["environment"]["name"] == stack


def test_production_waits_for_staging_behind_its_environment() -> None:
    production = _load("cd.yml")["jobs"]["production"]
    assert "staging" in production["needs"]
    assert production["environment"]["name"] == "production"


def test_ci_posts_the_comment_mlrig_renders_and_previews_without_failing_forks() -> None:
    ci = _load("ci.yml")
    comment_steps = [step.get("run") for step in ci["jobs"]["comment"]["steps"]]
    assert "make pr-comment" in comment_steps
    preview_runs = [step["run"] for step in ci["jobs"]["preview"]["steps"] if "run" in step]
    assert any(run.startswith("make preview") for run in preview_runs)


def test_e2e_always_destroys() -> None:
    steps = _load("e2e.yml")["jobs"]["kind"]["steps"]
    destroy = next(step for step in steps if step.get("run") == "make kind-down")
    assert destroy["if"] == "${{ always() }}"


def test_dependabot_keeps_actions_and_the_python_lock_current() -> None:
    config = yaml.safe_load((PROJECT_ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    assert {update["package-ecosystem"] for update in config["updates"]} == {"github-actions", "uv"}


def test_pre_commit_runs_the_same_ruff_as_make_lint() -> None:
    config = yaml.safe_load((PROJECT_ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    entries = {hook["id"]: hook["entry"] for repo in config["repos"] for hook in repo["hooks"]}
    assert entries["ruff-check"].startswith(".venv/bin/ruff check")
    assert entries["ruff-format"].startswith(".venv/bin/ruff format --check")
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(BIN)/ruff check ." in makefile and "$(BIN)/ruff format --check ." in makefile


def test_workflow_lint_is_part_of_make_test() -> None:
    assert re.search(r"^test: workflow-lint$", (PROJECT_ROOT / "make" / "ci.mk").read_text(), re.MULTILINE)


def test_make_targets_parser_sees_targets_from_every_file() -> None:
    assert {"test", "lint", "workflow-lint", "kind-up"} <= make_targets()
    assert "CI_WORK" not in make_targets()
