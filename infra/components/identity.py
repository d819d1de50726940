"""WorkloadIdentity: a ServiceAccount with a least-privilege Role: read only the named Secrets, nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True, kw_only=True)
class WorkloadIdentityArgs:
    namespace: pulumi.Input[str]
    readable_secrets: Sequence[pulumi.Input[str]] = ()  # by name: never a wildcard
    image_pull_secrets: Sequence[pulumi.Input[str]] = ()  # registry credentials its pods pull with (private images)


class WorkloadIdentity(pulumi.ComponentResource):
    name: pulumi.Output[str]

    def __init__(self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlrig:platform:WorkloadIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        sa = k8s.core.v1.ServiceAccount(
            name,
            metadata={"name": name, "namespace": args.namespace},
            automount_service_account_token=False,
            image_pull_secrets=[{"name": secret} for secret in args.image_pull_secrets] or None,
            opts=child,
        )
        self.name = sa.metadata.apply(lambda m: m.name)
        rules = []
        if args.readable_secrets:
            rules.append(
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": list(args.readable_secrets),
                    "verbs": ["get"],
                }
            )
        role = k8s.rbac.v1.Role(name, metadata={"name": name, "namespace": args.namespace}, rules=rules, opts=child)
        k8s.rbac.v1.RoleBinding(
            name,
            metadata={"name": name, "namespace": args.namespace},
            role_ref={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": role.metadata.apply(lambda m: m.name),
            },
            subjects=[{"kind": "ServiceAccount", "name": self.name, "namespace": args.namespace}],
            opts=child,
        )
        self.register_outputs({"name": self.name})


def registry_pull_secrets(namespace: pulumi.Input[str], auth: pulumi.Input[str] | None) -> list[pulumi.Output[str]]:
    """The registry credentials (a `.dockerconfigjson`, a Pulumi secret: `pulumi config set --secret registryAuth
    …` on the platform stack) as a pull Secret for a private registry; [] without any (public images)."""
    if auth is None:
        return []
    pull = k8s.core.v1.Secret(
        "registry-pull",
        metadata={"name": "registry-pull", "namespace": namespace},
        type="kubernetes.io/dockerconfigjson",
        string_data={".dockerconfigjson": pulumi.Output.secret(auth)},
    )
    return [pull.metadata.apply(lambda m: m.name)]
