"""Serving: the BentoML image as a ModelEndpoint (a Deployment per model variant when A/B is on, HPA, PDB,
Service, network policy, an Ingress when a domain is set), probes on the service's own /livez and /readyz,
and the Grafana dashboard of its metrics and of drift.

Reads from the platform stack: namespace, lake settings (models URL, S3 client), store credentials, serving identity.
The service's API keys are this stack's secret `apiKeys` (`pulumi config set --secret apiKeys KEY[,KEY…]`),
handed to the pods through a Kubernetes Secret; with `[serving] auth = "required"` the program refuses to run
without them, as the service would refuse to start.
"""

import pulumi
import pulumi_kubernetes as k8s

from infra import outputs
from infra.components import GrafanaDashboard, GrafanaDashboardArgs, ModelEndpoint, ModelEndpointArgs
from infra.components.dashboard import MLRIG_DASHBOARD
from infra.settings import ServingSettings, project_config
from infra.sizing import Reserve, quota_problem
from service.guard import API_KEYS_ENV

settings = ServingSettings.from_stack_config()
platform = outputs.Upstream(settings.platform_stack)
store_secret = platform.require(outputs.PLATFORM_STORE_CREDENTIALS_SECRET)
namespace = platform.require(outputs.PLATFORM_NAMESPACE)
SERVICE = "churn-scorer"

secret_env = {
    "AWS_ACCESS_KEY_ID": (store_secret, "AWS_ACCESS_KEY_ID"),
    "AWS_SECRET_ACCESS_KEY": (store_secret, "AWS_SECRET_ACCESS_KEY"),
}
api_keys_secret: pulumi.Input[str] = ""
if settings.api_keys is not None:
    keys = k8s.core.v1.Secret(
        "api-keys",
        metadata={"name": f"{SERVICE}-api-keys", "namespace": namespace},
        type="Opaque",
        string_data={API_KEYS_ENV: settings.api_keys},
    )
    api_keys_secret = keys.metadata.apply(lambda m: m.name)
    secret_env[API_KEYS_ENV] = (api_keys_secret, API_KEYS_ENV)
elif project_config().serving.auth == "required":
    raise ValueError(
        "serving: [serving] auth is 'required' but this stack has no API keys, so the service would refuse to "
        "start. Set them as a secret: `pulumi config set --secret apiKeys KEY[,KEY…]` (keys of at least 16 chars)."
    )


def fits_quota(quota: dict) -> dict:
    problem = quota_problem(
        variants=len(settings.variants), max_replicas=settings.max_replicas, sizing=settings.sizing,
        quota_cpu=quota["cpu"], quota_memory=quota["memory"], reserve=Reserve(),
    )  # fmt: skip
    if problem:
        raise ValueError(problem)
    return quota


platform.require(outputs.PLATFORM_QUOTA).apply(fits_quota)

endpoint = ModelEndpoint(
    SERVICE,
    ModelEndpointArgs(
        namespace=namespace,
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
        secret_env=secret_env,
        domain=settings.domain,
        ingress_class=settings.ingress_class,
        tls_secret=settings.tls_secret,
        ingress_namespace=settings.ingress_namespace,
        scrape_namespace=platform.require(outputs.PLATFORM_MONITORING_NAMESPACE),
    ),
)

dashboard = GrafanaDashboard(
    "mlrig",
    GrafanaDashboardArgs(
        namespace=namespace,
        dashboard_json=MLRIG_DASHBOARD.read_text(encoding="utf-8"),
    ),
)

pulumi.export(outputs.SERVING_SERVICE, endpoint.service)
pulumi.export(outputs.SERVING_URL, endpoint.url)
pulumi.export(outputs.SERVING_VARIANTS, [v.name for v in settings.variants])
pulumi.export(outputs.SERVING_API_KEYS_SECRET, api_keys_secret)
pulumi.export(outputs.SERVING_IMAGE_TAG, pulumi.Config().get("imageTag"))
