"""The release a stack runs lives in the stack's own state (issue 16, item 8): CD hands it to `pulumi up` without
writing config, and a later preview or a manual `pulumi up` keeps it instead of reverting to the stack file's tag."""

from __future__ import annotations

import pytest

from infra.testing import platform_outputs, stack_config
from pipelines.release.images import CONFIG_IMAGE_OUTPUT, IMAGE_OUTPUT, RELEASE_ENV

DIGEST = "sha256:" + "ab" * 32
RELEASED = f"ghcr.io/mlrig/churn-scorer:3f2c1e0@{DIGEST}"
PIPELINE = f"ghcr.io/mlrig/mlrig-pipeline:3f2c1e0@{DIGEST}"


def _serving_image(run) -> str:
    containers = run.mocks.of_type("apps/v1:Deployment")[0].inputs["spec"]["template"]["spec"]["containers"]
    return containers[0]["image"]


def _from_file(project: str, stack: str) -> str:
    name = {"serving": "churn-scorer", "data": "mlrig-pipeline", "ml": "mlrig-pipeline"}[project]
    return f"ghcr.io/mlrig/{name}:{stack_config(project, stack)[f'mlrig-{project}:imageTag']}"


def test_the_release_handed_in_is_deployed_and_exported(run_project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RELEASE_ENV["serving"], RELEASED)
    run = run_project("serving", "staging")
    assert _serving_image(run) == RELEASED
    assert run.exports[IMAGE_OUTPUT] == RELEASED
    assert run.exports[CONFIG_IMAGE_OUTPUT] == _from_file("serving", "staging")  # what the file said then


def test_a_later_preview_keeps_the_running_release_not_the_stack_files_tag(run_project) -> None:
    state = {IMAGE_OUTPUT: RELEASED, CONFIG_IMAGE_OUTPUT: _from_file("serving", "staging")}
    run = run_project("serving", "staging", stack_outputs={"platform": platform_outputs("staging"), "serving": state})
    assert _serving_image(run) == RELEASED
    assert run.exports[IMAGE_OUTPUT] == RELEASED


def test_a_person_changing_the_stack_files_tag_wins(run_project) -> None:
    state = {IMAGE_OUTPUT: RELEASED, CONFIG_IMAGE_OUTPUT: _from_file("serving", "staging")}
    outputs = {"platform": platform_outputs("staging"), "serving": state}
    run = run_project("serving", "staging", config={"imageTag": "hotfix-1"}, stack_outputs=outputs)
    assert _serving_image(run) == "ghcr.io/mlrig/churn-scorer:hotfix-1"


def test_a_new_stack_starts_from_its_stack_file(stack_runs) -> None:
    assert _serving_image(stack_runs[("serving", "dev")]) == _from_file("serving", "dev")


@pytest.mark.parametrize("project", ["data", "ml"])
def test_pipeline_jobs_run_the_released_pipeline_image(run_project, monkeypatch, project) -> None:
    monkeypatch.setenv(RELEASE_ENV["pipeline"], PIPELINE)
    run = run_project(project, "prod")
    images = {
        c["image"]
        for cron in run.mocks.of_type("batch/v1:CronJob")
        for c in cron.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    }
    assert images == {PIPELINE}


def test_a_malformed_release_is_refused(run_project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RELEASE_ENV["serving"], "ghcr.io/mlrig/churn-scorer:latest")
    with pytest.raises(ValueError, match="latest"):
        run_project("serving", "dev")


def test_stack_references_use_the_backends_organization(run_project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pulumi Cloud resolves `<org>/<project>/<stack>` only with the real org (issue 16, item 11)."""
    monkeypatch.setattr("pulumi.get_organization", lambda: "acme")
    run = run_project("serving", "prod")
    assert "acme/mlrig-platform/prod" in run.mocks.stack_references


def test_a_private_registry_is_pulled_with_the_stacks_credentials(run_project) -> None:
    """Issue 16, item 3: a private package needs a pull secret; both workload identities carry it."""
    from infra.testing import TEST_SECRETS

    auth = '{"auths": {"ghcr.io": {"auth": "dXNlcjp0b2tlbg=="}}}'
    run = run_project("platform", "prod", secrets={**TEST_SECRETS["platform"], "registryAuth": auth})
    pull = next(s for s in run.mocks.of_type("core/v1:Secret") if s.name == "registry-pull")
    assert pull.inputs["type"] == "kubernetes.io/dockerconfigjson"
    assert pull.secret_paths == ("stringData",)  # still a secret on the wire
    accounts = run.mocks.of_type("core/v1:ServiceAccount")
    assert {a.name for a in accounts} == {"mlrig-pipeline", "mlrig-serving"}
    assert all(a.inputs["imagePullSecrets"] == [{"name": "registry-pull"}] for a in accounts)


def test_public_images_need_no_pull_secret(stack_runs) -> None:
    accounts = stack_runs[("platform", "prod")].mocks.of_type("core/v1:ServiceAccount")
    assert all("imagePullSecrets" not in a.inputs for a in accounts)
