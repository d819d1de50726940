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
    groups = [workflow.get("concurrency", {}).get("group")] + [
        job.get("concurrency", {}).get("group") for job in workflow["jobs"].values()
    ]
    assert any(groups), name
    for job_id, job in workflow["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 60, f"{name}: {job_id}"


def test_deploys_queue_per_environment_and_are_never_cancelled() -> None:
    """Issue 16, item 12: a prod deploy waiting for approval must not hold staging (or the next release) back."""
    cd = _load("cd.yml")
    assert "concurrency" not in cd  # a workflow-wide group would serialise every job of every run
    deploys = {job_id: job for job_id, job in cd["jobs"].items() if "environment" in job}
    assert set(deploys) == {"staging", "production"}
    groups = {job["concurrency"]["group"] for job in deploys.values()}
    assert len(groups) == 2  # one per environment
    assert all(job["concurrency"]["cancel-in-progress"] is False for job in deploys.values())
    assert "concurrency" not in cd["jobs"]["release"]  # every merge's images are built


def test_each_deploy_job_names_a_stack_that_exists() -> None:
    """Issue 16, item 4: the stacks are dev, staging, prod; a job name or environment name is not a stack."""
    from infra.settings import STACKS

    for job_id, job in _load("cd.yml")["jobs"].items():
        if "environment" not in job:
            continue
        stack = job["env"]["STACK"]
        assert stack in STACKS, f"cd.yml {job_id}: STACK={stack!r} is not one of {STACKS}"
        for project in ("platform", "data", "ml", "serving"):
            assert (PROJECT_ROOT / "infra" / project / f"Pulumi.{stack}.yaml").is_file()
        assert "github.job" not in yaml.safe_dump(job)


def _make_recipe(target: str) -> str:
    """The recipe lines of one make target (make -n with every variable it needs)."""
    import subprocess

    done = subprocess.run(
        ["make", "-n", "--no-print-directory", target, "STACK=staging", "TAG=abc", "PULUMI_BACKEND_URL=file:///x"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PULUMI_BACKEND_URL": "file:///x"},
    )
    return done.stdout


def test_previews_run_the_policy_pack_and_deploys_go_through_mlrig_deploy() -> None:
    """Issue 16, item 13 (the policy pack on preview and up) and item 5 (every project, in order: mlrig deploy)."""
    assert "--policy-pack" in _make_recipe("preview")
    deploy = _make_recipe("deploy")
    assert "mlrig deploy --stack staging --tag abc" in deploy
    assert "--project" not in deploy  # every project, not serving alone


def test_no_recipe_uses_the_login_form_the_cli_refuses() -> None:
    """Issue 16, item 9: `pulumi login --local --cloud-url …` is refused by the CLI; `pulumi login file://DIR` works."""
    recipes = "\n".join((PROJECT_ROOT / "make" / name).read_text() for name in ("ci.mk", "infra.mk", "tools.mk"))
    assert "--local --cloud-url" not in recipes
    assert "pulumi login file://" in recipes


def test_cd_packages_the_lakes_champion_not_a_model_trained_on_the_sample() -> None:
    """Issue 16, item 6: the release job trains nothing; it packages what the cluster's gate promoted."""
    cd = _load("cd.yml")
    runs = [step.get("run", "") for step in cd["jobs"]["release"]["steps"]]
    assert not any("train" in run or "data-check" in run or "make bento" in run for run in runs)
    assert "make release-bento" in runs
    assert cd["env"]["MLRIG_LAKE_URL"] == "${{ vars.MLRIG_LAKE_URL }}"


def test_cd_pushes_where_the_stacks_pull_and_scans_both_images() -> None:
    """Issue 16, items 3 and 5: no registry spelled in the workflow (one home: [images] registry); the pipeline image
    is built and pushed too, and the scans read the pushed references the release step wrote."""
    release = _load("cd.yml")["jobs"]["release"]
    text = yaml.safe_dump(release)
    assert "github.repository" not in text and "churn-scorer" not in text
    steps = {step.get("id"): step for step in release["steps"] if step.get("id")}
    assert steps["images"]["run"].startswith("make release-images")
    scans = [step["with"]["image-ref"] for step in release["steps"] if "trivy" in step.get("uses", "")]
    assert scans == ["${{ steps.images.outputs.serving-image }}", "${{ steps.images.outputs.pipeline-image }}"]
    assert set(release["outputs"]) >= {"serving-digest", "pipeline-digest"}


def test_cd_smokes_with_the_environments_api_key() -> None:
    """Issue 16, item 2: the service requires a key; smoke without one fails every healthy deploy."""
    for job_id in ("staging", "production"):
        steps = {step.get("name"): step for step in _load("cd.yml")["jobs"][job_id]["steps"]}
        smoke = next(step for name, step in steps.items() if name and name.startswith("Smoke"))
        assert smoke["env"]["MLRIG_API_KEY"] == "${{ secrets.MLRIG_API_KEY }}"


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


def test_cd_packages_only_a_gated_champion_and_rolls_back_on_a_failed_check() -> None:
    cd = _load("cd.yml")
    release = [step.get("run", step.get("uses", "")) for step in cd["jobs"]["release"]["steps"]]
    bento = release.index("make release-bento")  # `mlrig build`: refuses without a champion (tests/unit/service)
    images = next(i for i, run in enumerate(release) if run.startswith("make release-images"))
    assert bento < images
    assert any(s.startswith("aquasecurity/trivy-action@") for s in release[images:])  # the pushed image is scanned
    bento_recipe = _make_recipe("bento")  # CI: the sample model is gated before it is packaged
    assert bento_recipe.index("mlrig gate") < bento_recipe.index("mlrig build")
    for stack in ("staging", "production"):
        steps = {step.get("name"): step for step in cd["jobs"][stack]["steps"]}
        rollback = steps["Roll back to the previous image"]
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
