"""Platform: the namespace (quota, limits, default-deny traffic), the object store for the lake and model exports,
the secrets the workloads need (from Pulumi secrets), and one least-privilege identity per kind of workload.

Reads nothing from other stacks; data, ml and serving read its outputs (infra/outputs.py).
"""

import pulumi
import pulumi_kubernetes as k8s

from infra import outputs
from infra.components import (
    ObjectStore,
    ObjectStoreArgs,
    SecureNamespace,
    SecureNamespaceArgs,
    WorkloadIdentity,
    WorkloadIdentityArgs,
    registry_pull_secrets,
)
from infra.settings import PlatformSettings

settings = PlatformSettings.from_stack_config()
secrets = pulumi.Config()

namespace = SecureNamespace(
    "mlrig",
    SecureNamespaceArgs(
        name=settings.namespace,
        quota_cpu=settings.quota_cpu,
        quota_memory=settings.quota_memory,
        quota_pods=settings.quota_pods,
    ),
)
ns = namespace.name

pii_key = k8s.core.v1.Secret(
    "pii-key",
    metadata={"name": "pii-key", "namespace": ns},
    type="Opaque",
    string_data={"MLRIG_PII_KEY": secrets.require_secret("piiKey")},
)
pii_secret = pii_key.metadata.apply(lambda m: m.name)

store = ObjectStore(
    "lake-store",
    ObjectStoreArgs(
        namespace=ns,
        access_key=secrets.require_secret("storeAccessKey"),
        secret_key=secrets.require_secret("storeSecretKey"),
        user_uid=settings.user_uid,
        bucket=settings.bucket,
        existing_bucket=settings.existing_bucket,
        size=settings.store_size,
        storage_class=settings.storage_class,
        image=settings.store_image,
        client_image=settings.client_image,
    ),
)

pulls = registry_pull_secrets(ns, secrets.get_secret("registryAuth"))  # set for a private registry
# both read the PII key: refine pseudonymises with it in silver, serving's prediction log the same way (outcomes join)
identity = WorkloadIdentityArgs(
    namespace=ns, readable_secrets=(store.credentials_secret, pii_secret), image_pull_secrets=pulls
)
pipeline = WorkloadIdentity("mlrig-pipeline", identity)
serving = WorkloadIdentity("mlrig-serving", identity)

pulumi.export(outputs.PLATFORM_NAMESPACE, ns)
pulumi.export(outputs.PLATFORM_LAKE_URL, store.lake_url)
pulumi.export(outputs.PLATFORM_MODELS_URL, store.lake_url.apply(settings.models_url))
pulumi.export(outputs.PLATFORM_RAW_URL, store.raw_url)
pulumi.export(outputs.PLATFORM_S3_ENDPOINT, store.endpoint)
pulumi.export(outputs.PLATFORM_LAKE_SETTINGS, store.client_settings)
pulumi.export(outputs.PLATFORM_STORE_CREDENTIALS_SECRET, store.credentials_secret)
pulumi.export(outputs.PLATFORM_PII_KEY_SECRET, pii_secret)
pulumi.export(outputs.PLATFORM_PIPELINE_SERVICE_ACCOUNT, pipeline.name)
pulumi.export(outputs.PLATFORM_SERVING_SERVICE_ACCOUNT, serving.name)
pulumi.export(outputs.PLATFORM_QUOTA, {"cpu": settings.quota_cpu, "memory": settings.quota_memory})
pulumi.export(outputs.PLATFORM_MONITORING_NAMESPACE, settings.monitoring_namespace)
