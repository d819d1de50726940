"""Run a project's Pulumi program under Pulumi's official mocks and keep what it declared.

Used by the unit tests (tests/unit/infra) and by `make infra-check`, which renders every Kubernetes object to
YAML for kubernetes-validate and checkov. No engine, no cluster: `pulumi.runtime.set_mocks` answers every
resource registration, and StackReferences are answered from the shared output keys (infra/outputs.py).
"""

from __future__ import annotations

import asyncio
import json
import runpy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
import pulumi.runtime.config
import pulumi.runtime.settings
import yaml

from infra import outputs
from infra.policy.rules import containers, pod_spec
from infra.settings import STACKS

INFRA_DIR = Path(__file__).resolve().parent
PROJECTS = ("platform", "data", "ml", "serving")
_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - Pulumi's wire marker for a secret value

# What an operator sets with `pulumi config set --secret`: stand-ins, never real values.
TEST_SECRETS: dict[str, dict[str, str]] = {
    "platform": {"piiKey": "test-pii-key", "storeAccessKey": "test-access-key", "storeSecretKey": "test-secret-key"},
    "ml": {"tuningDbUrl": "postgresql://optuna:test@optuna-db:5432/optuna"},
    "serving": {"apiKeys": "test-api-key-0123456789"},
}


def platform_outputs(stack: str) -> dict[str, Any]:
    """What the platform stack exports, as StackReference readers see it."""
    platform = stack_config("platform", stack)
    return {
        outputs.PLATFORM_NAMESPACE: f"mlrig-{stack}",
        outputs.PLATFORM_LAKE_URL: "s3://mlrig/lake",
        outputs.PLATFORM_MODELS_URL: "s3://mlrig/lake/models",
        outputs.PLATFORM_RAW_URL: "s3://mlrig/raw",
        outputs.PLATFORM_S3_ENDPOINT: f"http://lake-store.mlrig-{stack}.svc.cluster.local:9000",
        outputs.PLATFORM_LAKE_SETTINGS: "lake-store-client",
        outputs.PLATFORM_STORE_CREDENTIALS_SECRET: "lake-store-credentials",
        outputs.PLATFORM_PII_KEY_SECRET: "pii-key",
        outputs.PLATFORM_PIPELINE_SERVICE_ACCOUNT: "mlrig-pipeline",
        outputs.PLATFORM_SERVING_SERVICE_ACCOUNT: "mlrig-serving",
        outputs.PLATFORM_QUOTA: {
            "cpu": platform.get("mlrig-platform:quotaCpu", "8"),
            "memory": platform.get("mlrig-platform:quotaMemory", "16Gi"),
        },
        outputs.PLATFORM_MONITORING_NAMESPACE: "monitoring",
    }


@dataclass(frozen=True)
class Declared:
    """One resource the program declared: its type token, Pulumi name and inputs (wire names, camelCase)."""

    type: str
    name: str
    inputs: dict[str, Any]
    secret_paths: tuple[str, ...] = ()  # where in `inputs` a secret arrived (still a secret on the wire)

    @property
    def is_kubernetes(self) -> bool:
        return self.type.startswith("kubernetes:")

    def manifest(self) -> dict[str, Any]:
        """The Kubernetes object as it would be applied: apiVersion, kind, metadata, spec, ..."""
        return {k: v for k, v in self.inputs.items() if v is not None}


def _unwrap(value: Any, path: str, secrets: list[str]) -> Any:
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            secrets.append(path or ".")
            return _unwrap(value["value"], path, secrets)
        return {k: _unwrap(v, f"{path}.{k}" if path else k, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secrets) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        # the engine carries every number as a protobuf double; the provider turns integral ones back into the
        # integers the Kubernetes schema asks for (runAsUser: 10001, not 10001.0), and so do we
        return int(value)
    return value


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every resource's inputs; answers StackReferences from `stack_outputs[project]`."""

    def __init__(self, stack_outputs: Mapping[str, Mapping[str, Any]]) -> None:
        self.stack_outputs = stack_outputs
        self.declared: list[Declared] = []
        self.stack_references: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        if args.typ == "pulumi:pulumi:StackReference":
            name = args.inputs["name"]
            self.stack_references.append(name)
            project = name.split("/")[-2].removeprefix("mlrig-")
            return name, {"name": name, "outputs": dict(self.stack_outputs.get(project, {})), "secretOutputNames": []}
        secrets: list[str] = []
        self.declared.append(Declared(args.typ, args.name, _unwrap(args.inputs, "", secrets), tuple(secrets)))
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        return {}, None

    # queries the tests read like sentences
    def of_type(self, kind: str) -> list[Declared]:
        """Resources whose type token ends with `kind` (e.g. "apps/v1:Deployment" or ":Deployment")."""
        return [d for d in self.declared if d.type.endswith(kind)]

    def only(self, kind: str) -> Declared:
        found = self.of_type(kind)
        if len(found) != 1:
            raise AssertionError(f"expected one {kind}, found {len(found)}: {[d.name for d in found]}")
        return found[0]

    def kubernetes_objects(self) -> list[Declared]:
        return [d for d in self.declared if d.is_kubernetes]


@dataclass
class ProgramRun:
    project: str
    stack: str
    mocks: RecordingMocks
    exports: dict[str, Any] = field(default_factory=dict)


def stack_config(project: str, stack: str) -> dict[str, str]:
    """The stack file's config as the engine passes it to the program (every value a string)."""
    path = INFRA_DIR / project / f"Pulumi.{stack}.yaml"
    raw = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config") or {}
    as_text = lambda v: v if isinstance(v, str) else json.dumps(v)  # noqa: E731
    return {k: as_text(v) for k, v in raw.items()}


def _ensure_event_loop() -> None:
    """Pulumi's test runtime asks for the current loop; an earlier `asyncio.run` (a server test) leaves none."""
    try:
        if not asyncio.get_event_loop().is_closed():
            return
    except RuntimeError:
        pass
    asyncio.set_event_loop(asyncio.new_event_loop())


def run_program(
    project: str,
    stack: str = "dev",
    *,
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> ProgramRun:
    """Run infra/<project>/__main__.py for `stack` under fresh mocks; returns what it declared and exported.

    `config` overrides (short keys) go on top of the stack file; `secrets` replace TEST_SECRETS[project].
    A program error (a refused input, a missing stack output) propagates as the exception it raised.
    """
    if project not in PROJECTS or stack not in STACKS:
        raise ValueError(f"unknown project/stack {project}/{stack}")
    name = f"mlrig-{project}"
    values = stack_config(project, stack)
    values |= {f"{name}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()}
    secret_values = TEST_SECRETS.get(project, {}) if secrets is None else secrets
    values |= {f"{name}:{k}": v for k, v in secret_values.items()}

    _ensure_event_loop()
    mocks = RecordingMocks(stack_outputs if stack_outputs is not None else {"platform": platform_outputs(stack)})
    pulumi.runtime.settings.ROOT.set(None)  # forget the previous program's stack resource
    pulumi.runtime.set_mocks(mocks, project=name, stack=stack, preview=False)
    pulumi.runtime.set_all_config(values)  # replaces the previous program's config
    pulumi.runtime.config._SECRET_KEYS.set({f"{name}:{k}" for k in secret_values})

    run = ProgramRun(project, stack, mocks)
    exported: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output:
        with mock.patch.object(pulumi, "export", lambda key, value: exported.__setitem__(key, value)):
            runpy.run_path(str(INFRA_DIR / project / "__main__.py"), run_name="__main__")
        return pulumi.Output.from_input(exported).apply(run.exports.update)

    program()
    return run


def every_run() -> Iterator[ProgramRun]:
    for stack in STACKS:
        for project in PROJECTS:
            yield run_program(project, stack)


def pod_specs(run: ProgramRun) -> list[tuple[str, dict]]:
    """(kind/name, pod spec) for every workload the run declared."""
    found = []
    for d in run.mocks.kubernetes_objects():
        spec = pod_spec(d.type, d.inputs)
        if spec is not None:
            found.append((f"{d.inputs['kind']}/{d.inputs['metadata']['name']}", spec))
    return found


def assert_every_container_limited_and_non_root(run: ProgramRun) -> None:
    workloads = pod_specs(run)
    assert workloads, f"{run.project}/{run.stack} declared no workloads"
    for where, spec in workloads:
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        for c in containers(spec):
            res = c.get("resources") or {}
            assert {"cpu", "memory"} <= set(res.get("limits") or {}), f"{where}/{c['name']} has no limits"
            assert {"cpu", "memory"} <= set(res.get("requests") or {}), f"{where}/{c['name']} has no requests"
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True, where
            assert sc["runAsUser"] != 0, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", where
