"""Serving: the BentoML image as a ModelEndpoint (a Deployment per model variant when A/B is on, HPA, PDB,
Service, network policy, an Ingress when a domain is set), probes on the service's own /livez and /readyz,
and the Grafana dashboard of its metrics and of drift.

Reads from the platform stack: namespace, lake settings (models URL, S3 client), store credentials, serving identity.
"""

import pulumi

from infra import outputs
from infra.components import GrafanaDashboard, GrafanaDashboardArgs, ModelEndpoint, ModelEndpointArgs
from infra.components.dashboard import MLRIG_DASHBOARD
from infra.settings import ServingSettings

settings = ServingSettings.from_stack_config()
platform = outputs.Upstream(settings.platform_stack)
store_secret = platform.require(outputs.PLATFORM_STORE_CREDENTIALS_SECRET)

endpoint = ModelEndpoint(
    "churn-scorer",
    ModelEndpointArgs(
        namespace=platform.require(outputs.PLATFORM_NAMESPACE),
        image=settings.image,
        service_account=platform.require(outputs.PLATFORM_SERVING_SERVICE_ACCOUNT),
        port=settings.port,
        variants=settings.variants,
        min_replicas=settings.replicas,
        max_replicas=settings.max_replicas,
        target_cpu_percent=settings.target_cpu_percent,
        sizing=settings.sizing,
        env={"OMP_NUM_THREADS": "1"},
        env_from_config_maps=(platform.require(outputs.PLATFORM_LAKE_SETTINGS),),
        secret_env={
            "AWS_ACCESS_KEY_ID": (store_secret, "AWS_ACCESS_KEY_ID"),
            "AWS_SECRET_ACCESS_KEY": (store_secret, "AWS_SECRET_ACCESS_KEY"),
        },
        domain=settings.domain,
        ingress_class=settings.ingress_class,
        tls_secret=settings.tls_secret,
        ingress_namespace=settings.ingress_namespace,
    ),
)

dashboard = GrafanaDashboard(
    "mlrig",
    GrafanaDashboardArgs(
        namespace=platform.require(outputs.PLATFORM_NAMESPACE),
        dashboard_json=MLRIG_DASHBOARD.read_text(encoding="utf-8"),
    ),
)

pulumi.export(outputs.SERVING_SERVICE, endpoint.service)
pulumi.export(outputs.SERVING_URL, endpoint.url)
pulumi.export(outputs.SERVING_VARIANTS, [v.name for v in settings.variants])
pulumi.export(outputs.SERVING_IMAGE_TAG, pulumi.Config().get("imageTag"))
