"""The rules mlrig stands for, as pulumi_policy validations over Kubernetes resources (inputs, camelCase).

No `latest` (or missing) image tags; requests and limits on every container; nothing runs as root; no secret
in plain text (a secret-looking env var must come from a Secret); a default-deny NetworkPolicy in every namespace.
Each `validate_*` takes `(args, report_violation)` as pulumi_policy calls it, so tests call it the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

_POD_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|PII_?KEY|DB_?URL|_DSN$|STORAGE$)", re.I
)
URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/:@\s]+:[^/@\s]+@", re.I)


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec inside a workload's inputs, or None for a resource that runs no pods."""
    path = _POD_PATHS.get(resource_type)
    if path is None:
        return None
    node: Any = props
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def _each_container(args: ResourceValidationArgs) -> Iterator[Mapping[str, Any]]:
    spec = pod_spec(args.resource_type, args.props)
    if spec is not None:
        yield from containers(spec)


def image_is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and last.rsplit(":", 1)[1] not in ("", "latest")


def validate_no_latest_tag(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for c in _each_container(args):
        image = c.get("image") or ""
        if not image_is_pinned(image):
            report_violation(
                f"container {c.get('name')!r}: image {image!r} has no tag or uses latest; pin a tag or digest"
            )


def validate_limits_set(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for c in _each_container(args):
        resources = c.get("resources") or {}
        for kind in ("requests", "limits"):
            missing = [r for r in ("cpu", "memory") if not (resources.get(kind) or {}).get(r)]
            if missing:
                report_violation(f"container {c.get('name')!r}: no {kind} for {', '.join(missing)}")


def validate_non_root(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    pod = spec.get("securityContext") or {}
    for c in containers(spec):
        sc = c.get("securityContext") or {}
        non_root = sc.get("runAsNonRoot", pod.get("runAsNonRoot"))
        uid = sc.get("runAsUser", pod.get("runAsUser"))
        if non_root is not True or uid == 0:
            report_violation(
                f"container {c.get('name')!r} may run as root: set runAsNonRoot: true and a non-zero runAsUser"
            )
        if sc.get("allowPrivilegeEscalation") is not False or sc.get("privileged"):
            report_violation(f"container {c.get('name')!r}: set allowPrivilegeEscalation: false and privileged: false")


def plaintext_secrets(env: list[Mapping[str, Any]]) -> list[str]:
    """Names of env vars that look like secrets but carry a literal value instead of a secretKeyRef."""
    found = []
    for var in env:
        value = var.get("value")
        if (
            isinstance(value, str)
            and value
            and (SECRET_NAME.search(var.get("name", "")) or URL_WITH_PASSWORD.match(value))
        ):
            found.append(var.get("name", "?"))
    return found


def plaintext_config_secrets(config: Mapping[str, Any]) -> list[str]:
    """Keys of a stack file's `config:` that look like secrets but are not `secure:` (encrypted) values.

    A key ending in `Name` names a Secret (e.g. tlsSecretName) and holds no secret itself.
    """
    return [
        key
        for key, value in config.items()
        if SECRET_NAME.search(name := key.rsplit(":", 1)[-1])
        and not name.endswith("Name")
        and not (isinstance(value, Mapping) and "secure" in value)
    ]


def validate_no_plaintext_secrets(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for c in _each_container(args):
        for name in plaintext_secrets(c.get("env") or []):
            report_violation(
                f"container {c.get('name')!r}: env {name} is a literal; take it from a Secret (secretKeyRef)"
            )
    if args.resource_type == "kubernetes:core/v1:ConfigMap":
        for key, value in (args.props.get("data") or {}).items():
            if SECRET_NAME.search(key) or (isinstance(value, str) and URL_WITH_PASSWORD.match(value)):
                report_violation(f"ConfigMap key {key!r} looks like a secret; put it in a Secret from Pulumi secrets")


def validate_network_policy_per_namespace(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    namespaces = {
        (r.props.get("metadata") or {}).get("name"): r.urn
        for r in args.resources
        if r.resource_type == "kubernetes:core/v1:Namespace"
    }
    guarded = set()
    for r in args.resources:
        if r.resource_type != "kubernetes:networking.k8s.io/v1:NetworkPolicy":
            continue
        spec = r.props.get("spec") or {}
        if spec.get("podSelector") in ({}, None) and {"Ingress", "Egress"} <= set(spec.get("policyTypes") or []):
            guarded.add((r.props.get("metadata") or {}).get("namespace"))
    for name, urn in namespaces.items():
        if name not in guarded:
            report_violation(
                f"namespace {name!r} has no default-deny NetworkPolicy (podSelector {{}}, Ingress and Egress)", urn
            )


def violations(validate: Callable, resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Run one resource rule the way the engine does and return its messages (for tests and `infra.check`)."""
    found: list[str] = []
    args = ResourceValidationArgs(
        resource_type=resource_type,
        props=props,
        urn=f"urn:pulumi:stack::mlrig::{resource_type}::resource",
        name="resource",
        opts=None,  # type: ignore[arg-type]
        provider=None,
    )
    validate(args, lambda message, urn=None: found.append(message))
    return found


def _policy(name: str, description: str, validate: Callable) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY
    )


POLICIES = [
    _policy("no-latest-tag", "Every container image is pinned by tag (not latest) or digest.", validate_no_latest_tag),
    _policy("limits-set", "Every container sets CPU and memory requests and limits.", validate_limits_set),
    _policy("non-root", "No container runs as root or can escalate privileges.", validate_non_root),
    _policy(
        "no-plaintext-secrets",
        "Secret-looking values come from Secrets, never literals.",
        validate_no_plaintext_secrets,
    ),
    StackValidationPolicy(
        name="network-policy-per-namespace",
        description="Every namespace has a default-deny NetworkPolicy.",
        validate=validate_network_policy_per_namespace,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
]
