"""Serving: the BentoML image as a ModelEndpoint (one Deployment serving every A/B variant of [serving.variants],
HPA, PDB, Service, network policy, an Ingress when a domain is set), named `[serving] service_name`, listening and
probed on `[serving] port`, and the Grafana dashboard of its metrics and of drift.

Reads from the platform stack: namespace, lake settings (models URL, S3 client), store credentials, PII key,
serving identity.
The service's API keys are this stack's secret `apiKeys` (`pulumi config set --secret apiKeys KEY[,KEY…]`),
handed to the pods through a Kubernetes Secret; with `[serving] auth = "required"` the program refuses to run
without them, as the service would refuse to start.
"""

import pulumi

from infra import outputs
from infra.components import GrafanaDashboard, GrafanaDashboardArgs, ModelEndpoint
from infra.components.dashboard import MLRIG_DASHBOARD
from infra.settings import ServingSettings
from infra.sizing import require_room

settings = ServingSettings.from_stack_config()
platform = outputs.Upstream(settings.platform_stack)
store_secret = platform.require(outputs.PLATFORM_STORE_CREDENTIALS_SECRET)
namespace = platform.require(outputs.PLATFORM_NAMESPACE)

# at its maximum serving must leave the store and a pipeline Job room in the namespace's quota (infra/sizing.py)
platform.require(outputs.PLATFORM_QUOTA).apply(
    lambda quota: require_room(quota, max_replicas=settings.max_replicas, sizing=settings.sizing)
)

endpoint = ModelEndpoint(
    settings.service_name,
    settings.endpoint_args(
        namespace=namespace,
        service_account=platform.require(outputs.PLATFORM_SERVING_SERVICE_ACCOUNT),
        env={"OMP_NUM_THREADS": "1"},
        env_from_config_maps=(platform.require(outputs.PLATFORM_LAKE_SETTINGS),),
        secret_env={
            "AWS_ACCESS_KEY_ID": (store_secret, "AWS_ACCESS_KEY_ID"),
            "AWS_SECRET_ACCESS_KEY": (store_secret, "AWS_SECRET_ACCESS_KEY"),
            # the prediction log's request keys, pseudonymised with refine's key so outcomes join silver; without
            # it each pod would make its own demo key (or log no keys), and no outcome would ever join
            "MLRIG_PII_KEY": (platform.require(outputs.PLATFORM_PII_KEY_SECRET), "MLRIG_PII_KEY"),
        },
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
pulumi.export(outputs.SERVING_VARIANTS, list(settings.variants))
pulumi.export(outputs.SERVING_API_KEYS_SECRET, endpoint.api_keys_secret)
