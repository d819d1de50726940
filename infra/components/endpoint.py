"""ModelEndpoint: the BentoML service as one Deployment behind one Service.

A HorizontalPodAutoscaler and a PodDisruptionBudget; rolling updates add a pod before removing one
(maxUnavailable 0), so capacity never drops. Probes hit the service's own liveness and readiness paths.
A/B variants are not a Kubernetes concern here: every pod serves every variant of `[serving.variants]`, pinned
into the Bento, and routes by weight and request key (service/routing.py; docs/architecture.md says why).
Traffic reaches the pods only from the ingress controller's namespace, from inside the namespace and, for the
/metrics scrape, from the monitoring namespace the platform names;
an Ingress exists only when a domain is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import pulumi
import pulumi_kubernetes as k8s

from infra.components.pod import LAKE_ACCESS_LABEL, ContainerArgs, Sizing, pod_spec
from infra.images.layout import BENTOML_HOME
from service.guard import API_KEYS_ENV

NAMESPACE_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace


@dataclass(frozen=True, kw_only=True)
class ModelEndpointArgs:
    namespace: pulumi.Input[str]
    image: pulumi.Input[str]  # by digest or immutable tag, never latest
    service_account: pulumi.Input[str]
    # from the project config ([serving] port, [images] user_uid, the service's health paths): the image listens,
    # runs and answers there, so the component is told, never guesses or reads the config itself
    port: int
    user_uid: int
    liveness_path: str
    readiness_path: str
    min_replicas: int = 2  # a node drain must never remove the last pod
    max_replicas: int = 4
    target_cpu_percent: int = 70
    sizing: Sizing = field(default_factory=Sizing)
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_env: Mapping[str, tuple[pulumi.Input[str], str]] = field(default_factory=dict)
    env_from_config_maps: Sequence[pulumi.Input[str]] = ()
    # the root filesystem is read-only: BentoML writes its Prometheus multiprocess files under $BENTOML_HOME (where
    # our serving image puts it: infra/images/layout.py) and temporary files; each gets an emptyDir
    writable_paths: Sequence[str] = ("/tmp", BENTOML_HOME)  # noqa: S108 - emptyDirs
    domain: str | None = None
    ingress_class: str = "nginx"
    tls_secret: str | None = None
    ingress_namespace: str = "ingress-nginx"
    scrape_namespace: pulumi.Input[str] | None = None  # Prometheus runs there: it may reach the port for /metrics
    api_keys: pulumi.Input[str] | None = None  # a Pulumi secret: comma-separated bearer keys, into a Secret
    # how long `pulumi up` waits for a rollout (new pods Ready) before it fails; the old pods keep serving
    rollout_timeout_s: int = 600
    # kube-proxy needs a moment to drop a terminating pod from the Service: it keeps answering meanwhile
    drain_seconds: int = 5

    def __post_init__(self) -> None:
        if self.min_replicas < 1 or self.max_replicas < self.min_replicas:
            raise ValueError(
                f"replicas: need 1 ≤ min_replicas ({self.min_replicas}) ≤ max_replicas ({self.max_replicas})"
            )
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port: {self.port} is not a TCP port (1-65535)")


class ModelEndpoint(pulumi.ComponentResource):
    service: pulumi.Output[str]
    url: pulumi.Output[str]
    api_keys_secret: pulumi.Output[str]  # "" when no keys were given

    def __init__(self, name: str, args: ModelEndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlrig:serving:ModelEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        selector = {"app.kubernetes.io/name": name}
        self.api_keys_secret = pulumi.Output.from_input("")
        if args.api_keys is not None:
            keys = k8s.core.v1.Secret(
                f"{name}-api-keys",
                metadata={"name": f"{name}-api-keys", "namespace": args.namespace},
                type="Opaque",
                string_data={API_KEYS_ENV: pulumi.Output.secret(args.api_keys)},
                opts=child,
            )
            self.api_keys_secret = keys.metadata.apply(lambda m: m.name)
            args = replace(args, secret_env={**args.secret_env, API_KEYS_ENV: (self.api_keys_secret, API_KEYS_ENV)})
        self._deployment(name, args, selector, child)
        svc = k8s.core.v1.Service(
            name,
            metadata={"name": name, "namespace": args.namespace, "labels": selector},
            spec={"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": args.port}]},
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-ingress",
            metadata={"name": f"{name}-ingress", "namespace": args.namespace},
            spec={
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: args.ingress_namespace}}},
                            {"podSelector": {}},
                            *(
                                [{"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: args.scrape_namespace}}}]
                                if args.scrape_namespace
                                else []
                            ),
                        ],
                        "ports": [{"protocol": "TCP", "port": args.port}],
                    }
                ],
            },
            opts=child,
        )
        self.service = svc.metadata.apply(lambda m: m.name)
        self.url = pulumi.Output.concat("http://", self.service, ".", args.namespace, ".svc.cluster.local")
        if args.domain:
            self.url = self._ingress(name, args, child)
        self.register_outputs({"service": self.service, "url": self.url, "api_keys_secret": self.api_keys_secret})

    def _deployment(self, name: str, args: ModelEndpointArgs, selector: dict, child: pulumi.ResourceOptions) -> None:
        labels = {**selector, "app.kubernetes.io/part-of": "mlrig", LAKE_ACCESS_LABEL: "true"}
        probe = lambda path, period: {  # noqa: E731
            "httpGet": {"path": path, "port": args.port},
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        }
        container = ContainerArgs(
            name="service",
            image=args.image,
            user_uid=args.user_uid,
            env=dict(args.env),
            secret_env=args.secret_env,
            env_from_config_maps=args.env_from_config_maps,
            writable_paths=tuple(args.writable_paths),
            sizing=args.sizing,
            ports=(args.port,),
            lifecycle={"preStop": {"sleep": {"seconds": args.drain_seconds}}},
            probes={
                "startupProbe": {**probe(args.liveness_path, 5), "failureThreshold": 30},
                "livenessProbe": probe(args.liveness_path, 10),
                "readinessProbe": probe(args.readiness_path, 5),
            },
        )
        k8s.apps.v1.Deployment(
            name,
            metadata={
                "name": name,
                "namespace": args.namespace,
                "labels": labels,
                "annotations": {"pulumi.com/timeoutSeconds": str(args.rollout_timeout_s)},
            },
            spec={
                "replicas": args.min_replicas,
                "selector": {"matchLabels": selector},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": pod_spec([container], service_account=args.service_account),
                },
            },
            opts=child,
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            name,
            metadata={"name": name, "namespace": args.namespace},
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": args.min_replicas,
                "maxReplicas": args.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": args.target_cpu_percent},
                        },
                    }
                ],
            },
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            name,
            metadata={"name": name, "namespace": args.namespace},
            # one replica: allow a drain to proceed (the Deployment surges first); more: keep all but one
            spec={"selector": {"matchLabels": selector}, "maxUnavailable": 1},
            opts=child,
        )

    def _ingress(self, name: str, args: ModelEndpointArgs, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        spec: dict = {
            "ingressClassName": args.ingress_class,
            "rules": [
                {
                    "host": args.domain,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": self.service, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        }
        if args.tls_secret:
            spec["tls"] = [{"hosts": [args.domain], "secretName": args.tls_secret}]
        k8s.networking.v1.Ingress(name, metadata={"name": name, "namespace": args.namespace}, spec=spec, opts=child)
        return pulumi.Output.from_input(f"{'https' if args.tls_secret else 'http'}://{args.domain}")
