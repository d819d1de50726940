"""One home per fact: change the serving port, the service name and the registry in a copy of the project config,
and everything derived from them follows — the Kubernetes objects the stacks render, the serving image's command,
the workflows' and Makefile's variables, the CLI's defaults. Nothing may still say the old values.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import tomlkit
import yaml

from infra.images.context import render_serving_dockerfile
from infra.testing import run_program, stack_config
from pipelines.config import CONFIG_ENV, IMAGE_TAG_KEY, LIVENESS_PATH, READINESS_PATH, load_config

ROOT = Path(__file__).resolve().parents[2]
MLRIG = ROOT / ".venv" / "bin" / "mlrig"
PORT, NAME, REGISTRY, UID = 8080, "price-scorer", "registry.example.com/acme", 20002


@pytest.fixture
def moved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of mlrig.toml with another port, service name, registry and user, named by $MLRIG_CONFIG."""
    document = tomlkit.parse((ROOT / "mlrig.toml").read_text(encoding="utf-8"))
    document["serving"]["port"] = PORT
    document["serving"]["service_name"] = NAME
    document["images"]["registry"] = REGISTRY
    document["images"]["user_uid"] = UID
    path = tmp_path / "mlrig.toml"
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    monkeypatch.setenv(CONFIG_ENV, str(path))
    return path


def test_the_copy_really_differs_from_the_repositorys_config(moved):
    original, copy = load_config(ROOT / "mlrig.toml"), load_config(moved)
    assert (copy.serving.port, copy.serving.service_name, copy.images.registry) == (PORT, NAME, REGISTRY)
    assert original.serving.port != PORT and original.serving.service_name != NAME
    assert original.images.registry != REGISTRY and original.images.user_uid != UID


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_serving_stack_renders_name_port_probes_and_image_from_the_config(moved, stack):
    run = run_program("serving", stack)
    (deployment,) = run.mocks.of_type("apps/v1:Deployment")
    assert deployment.name == NAME and deployment.inputs["metadata"]["name"] == NAME
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"containerPort": PORT, "name": "http"}]
    for probe, path in (("livenessProbe", LIVENESS_PATH), ("readinessProbe", READINESS_PATH)):
        assert container[probe]["httpGet"] == {"path": path, "port": PORT}
    tag = stack_config("serving", stack)[f"mlrig-serving:{IMAGE_TAG_KEY}"]
    assert container["image"] == f"{REGISTRY}/{NAME}:{tag}"
    service = run.mocks.only("core/v1:Service")
    assert service.name == NAME and service.inputs["spec"]["ports"][0]["targetPort"] == PORT
    hpa = run.mocks.only("HorizontalPodAutoscaler").inputs["spec"]["scaleTargetRef"]
    assert hpa["name"] == NAME
    (policy,) = [p for p in run.mocks.of_type("NetworkPolicy") if p.name == f"{NAME}-ingress"]
    assert policy.inputs["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": PORT}]
    assert run.exports["service"] == NAME
    pod = deployment.inputs["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"] == UID


def test_the_pipeline_stacks_pull_from_the_configured_registry_and_run_as_its_user(moved):
    config = load_config(moved)
    for project in ("data", "ml"):
        for job in load_jobs(run_program(project, "dev")):
            (container,) = job["containers"]
            assert container["image"].startswith(f"{REGISTRY}/{config.images.pipeline_name}:")
            assert job["securityContext"]["runAsUser"] == container["securityContext"]["runAsUser"] == UID


def test_the_platforms_object_store_runs_as_the_configured_user(moved):
    (store,) = run_program("platform", "dev").mocks.of_type("apps/v1:Deployment")
    assert store.inputs["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == UID


def load_jobs(run) -> list[dict]:
    specs = [c.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"] for c in run.mocks.of_type("CronJob")]
    return specs + [j.inputs["spec"]["template"]["spec"] for j in run.mocks.of_type("batch/v1:Job")]


def test_the_serving_images_command_and_exposed_port_follow_the_config(moved, tmp_path: Path):
    dockerfile = render_serving_dockerfile(tmp_path, [], load_config(moved).serving.port).read_text()
    (exposed,) = re.findall(r"^EXPOSE (\S+)$", dockerfile, flags=re.MULTILINE)
    (cmd,) = re.findall(r"^CMD (\[.*\])$", dockerfile, flags=re.MULTILINE)
    command = json.loads(cmd)
    assert exposed == str(PORT)
    assert command[:2] == ["bentoml", "serve"] and command[command.index("--port") + 1] == str(PORT)


def shell_env(config: Path) -> dict[str, str]:
    return {**os.environ, CONFIG_ENV: str(config)}


def test_the_makefile_and_ci_variables_follow_the_config(moved):
    printed = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", "print-%: ; @echo $($*)", "print-PORT", "print-E2E_SERVICE"],
        cwd=ROOT,
        env=shell_env(moved),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert printed.stdout.split() == [str(PORT), NAME]


def test_the_release_workflow_takes_image_names_from_the_config(moved):
    """CD's images come from `make release-images` (pipelines/release/images.py reads the config), and the
    scans read that step's outputs, never a literal name."""
    from pipelines.release.images import image_repository

    assert image_repository(load_config(moved), "serving") == f"{REGISTRY}/{NAME}"
    workflow = yaml.safe_load((ROOT / ".github/workflows/cd.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["release"]["steps"]
    scans = [s for s in steps if "image-ref" in s.get("with", {})]
    assert scans and all("${{ steps.images.outputs." in s["with"]["image-ref"] for s in scans)


def test_the_clis_default_url_follows_the_port(moved):
    answer = subprocess.run(
        [str(MLRIG), "predict"], cwd=ROOT, env=shell_env(moved), capture_output=True, text=True, timeout=120
    )
    assert answer.returncode == 1 and f"127.0.0.1:{PORT}" in answer.stderr  # nothing listens there: it says where


def test_no_workflow_makefile_or_program_restates_the_service_name_or_port():
    config = load_config(ROOT / "mlrig.toml")
    places = [
        *(ROOT / ".github/workflows").glob("*.yml"),
        *(ROOT / "make").glob("*.mk"),
        ROOT / "Makefile",
        *(ROOT / "infra").glob("*/__main__.py"),
        *(ROOT / "infra/images/dockerfiles").glob("*.Dockerfile"),
        ROOT / "infra/components/endpoint.py",
        ROOT / "infra/images/run.py",
    ]
    for path in places:
        text = path.read_text(encoding="utf-8")
        assert config.serving.service_name not in text, f"{path} spells the service name"
        port = rf"(?i)(port[^\n]{{0,12}}?|:|EXPOSE\s+)\b{config.serving.port}\b"  # not CI_ROWS ?= 3000
        assert not re.search(port, text), f"{path} spells the port"
