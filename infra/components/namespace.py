"""SecureNamespace: a namespace with a quota, default limits, Pod Security `restricted`, and default-deny traffic.

Nothing talks to anything until a policy allows it: DNS egress for every pod, and the lake's clients
(pods labelled `mlrig.io/lake-access=true`) to the object store and to HTTPS buckets outside.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.components.pod import LAKE_ACCESS_LABEL

OBJECT_STORE_LABELS = {"app.kubernetes.io/name": "object-store"}
OBJECT_STORE_PORT = 9000


@dataclass(frozen=True, kw_only=True)
class SecureNamespaceArgs:
    name: str
    quota_cpu: str = "8"
    quota_memory: str = "16Gi"
    quota_pods: int = 40
    default_cpu: str = "500m"  # for a container that names no limits (none of ours)
    default_memory: str = "512Mi"

    def __post_init__(self) -> None:
        if (
            not self.name
            or len(self.name) > 63
            or not self.name.replace("-", "").isalnum()
            or self.name != self.name.lower()
        ):
            raise ValueError(f"namespace {self.name!r} is not a valid DNS label")


class SecureNamespace(pulumi.ComponentResource):
    name: pulumi.Output[str]

    def __init__(self, name: str, args: SecureNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlrig:platform:SecureNamespace", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = k8s.core.v1.Namespace(
            name,
            metadata={
                "name": args.name,
                "labels": {
                    "app.kubernetes.io/part-of": "mlrig",
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            },
            opts=child,
        )
        self.name = ns.metadata.apply(lambda m: m.name)
        meta = lambda suffix: {"name": suffix, "namespace": self.name}  # noqa: E731
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=meta("quota"),
            spec={
                "hard": {
                    "requests.cpu": args.quota_cpu,
                    "requests.memory": args.quota_memory,
                    "limits.cpu": args.quota_cpu,
                    "limits.memory": args.quota_memory,
                    "pods": str(args.quota_pods),
                }
            },
            opts=child,
        )
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=meta("limits"),
            spec={
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": args.default_cpu, "memory": args.default_memory},
                        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                    }
                ]
            },
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=meta("default-deny"),
            spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-dns",
            metadata=meta("allow-dns"),
            spec={
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-allow-lake",
            metadata=meta("allow-lake-clients"),
            spec={
                "podSelector": {"matchLabels": {LAKE_ACCESS_LABEL: "true"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [{"podSelector": {"matchLabels": OBJECT_STORE_LABELS}}],
                        "ports": [{"port": OBJECT_STORE_PORT}],
                    },
                    {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]},
                ],
            },
            opts=child,
        )
        self.register_outputs({"name": self.name})


def allow_egress(
    name: str,
    namespace: pulumi.Input[str],
    pods: dict[str, str],
    port: pulumi.Input[int],
    opts: pulumi.ResourceOptions | None = None,
) -> k8s.networking.v1.NetworkPolicy:
    """Let the pods matching `pods` open TCP connections to `port` anywhere (e.g. a managed database whose
    address the program only knows by name): the namespace's default-deny blocks all other egress."""
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata={"name": name, "namespace": namespace},
        spec={
            "podSelector": {"matchLabels": pods},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"protocol": "TCP", "port": port}]}],
        },
        opts=opts,
    )
