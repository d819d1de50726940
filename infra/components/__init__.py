"""The component library the four Pulumi projects compose: each hardened resource is written once, here."""

from infra.components.dashboard import GrafanaDashboard, GrafanaDashboardArgs
from infra.components.endpoint import ModelEndpoint, ModelEndpointArgs
from infra.components.identity import WorkloadIdentity, WorkloadIdentityArgs, registry_pull_secrets
from infra.components.job import HardenedJob, HardenedJobArgs
from infra.components.namespace import SecureNamespace, SecureNamespaceArgs
from infra.components.object_store import ObjectStore, ObjectStoreArgs
from infra.components.pod import ContainerArgs

__all__ = [
    "ContainerArgs",
    "GrafanaDashboard",
    "GrafanaDashboardArgs",
    "HardenedJob",
    "HardenedJobArgs",
    "ModelEndpoint",
    "ModelEndpointArgs",
    "ObjectStore",
    "ObjectStoreArgs",
    "SecureNamespace",
    "SecureNamespaceArgs",
    "WorkloadIdentity",
    "WorkloadIdentityArgs",
    "registry_pull_secrets",
]
