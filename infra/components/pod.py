"""The hardened pod: written once, used by every Job, CronJob and Deployment the components declare.

Non-root, read-only root filesystem (a writable emptyDir at /tmp), every capability dropped, no privilege
escalation, seccomp RuntimeDefault, no service-account token unless asked, requests and limits always set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

LAKE_ACCESS_LABEL = "mlrig.io/lake-access"  # pods with this label may reach the object store


@dataclass(frozen=True, kw_only=True)
class Sizing:
    """Requests and limits of one container: the one home of the default pod size (stacks override per project)."""

    cpu: str = "250m"
    memory: str = "512Mi"
    cpu_limit: str = "1"
    memory_limit: str = "1Gi"


@dataclass(frozen=True, kw_only=True)
class ContainerArgs:
    name: str
    image: pulumi.Input[str]
    # the uid the image is built to run as ([images] user_uid, passed in by the program): it owns the image's files
    user_uid: int
    args: Sequence[str] = ()
    command: Sequence[str] = ()
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_env: Mapping[str, tuple[pulumi.Input[str], str]] = field(default_factory=dict)  # VAR → (secret, key)
    env_from_config_maps: Sequence[pulumi.Input[str]] = ()  # every key of these ConfigMaps becomes an env var
    sizing: Sizing = field(default_factory=Sizing)
    ports: Sequence[int] = ()
    probes: Mapping[str, Any] = field(default_factory=dict)  # livenessProbe/readinessProbe/startupProbe
    lifecycle: Mapping[str, Any] = field(default_factory=dict)  # e.g. a preStop pause while endpoints update
    writable_paths: Sequence[str] = ("/tmp",)  # noqa: S108 - an emptyDir, not the node's /tmp

    def __post_init__(self) -> None:
        if self.user_uid < 1:
            raise ValueError(f"container {self.name!r}: user_uid {self.user_uid} is root; pods run as a non-root user")
        if isinstance(self.image, str) and (self.image.endswith(":latest") or ":" not in self.image.split("/")[-1]):
            raise ValueError(f"container {self.name!r}: image {self.image!r} needs a tag or digest other than latest")


def _volume_name(path: str) -> str:
    """A DNS label for the emptyDir behind `path` (`/home/app/.bentoml` → `rw-home-app-bentoml`)."""
    return "rw-" + re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


def container(c: ContainerArgs) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in c.env.items()]
    env += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for k, (secret, key) in c.secret_env.items()
    ]
    spec: dict[str, Any] = {
        "name": c.name,
        "image": c.image,
        "imagePullPolicy": "IfNotPresent",
        "env": env,
        "resources": {
            "requests": {"cpu": c.sizing.cpu, "memory": c.sizing.memory},
            "limits": {"cpu": c.sizing.cpu_limit, "memory": c.sizing.memory_limit},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": c.user_uid,
            "runAsGroup": c.user_uid,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": _volume_name(p), "mountPath": p} for p in c.writable_paths],
        **c.probes,
    }
    if c.env_from_config_maps:
        spec["envFrom"] = [{"configMapRef": {"name": name}} for name in c.env_from_config_maps]
    if c.lifecycle:
        spec["lifecycle"] = dict(c.lifecycle)
    if c.command:
        spec["command"] = list(c.command)
    if c.args:
        spec["args"] = list(c.args)
    if c.ports:
        spec["ports"] = [{"containerPort": p, "name": f"http-{i}" if i else "http"} for i, p in enumerate(c.ports)]
    return spec


def pod_spec(
    containers: Sequence[ContainerArgs],
    *,
    service_account: pulumi.Input[str] | None = None,
    restart_policy: str | None = None,
    extra_volumes: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    paths = sorted({p for c in containers for p in c.writable_paths})
    uids = {c.user_uid for c in containers}
    if len(uids) != 1:
        raise ValueError(f"pod_spec: the containers of one pod run as one user (fsGroup), got uids {sorted(uids)}")
    uid = uids.pop()
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": uid,
            "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container(c) for c in containers],
        "volumes": [{"name": _volume_name(p), "emptyDir": {"sizeLimit": "256Mi"}} for p in paths] + list(extra_volumes),
    }
    if service_account is not None:
        spec["serviceAccountName"] = service_account
    if restart_policy:
        spec["restartPolicy"] = restart_policy
    return spec
