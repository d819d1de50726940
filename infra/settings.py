"""Typed settings for each Pulumi project: its stack config, plus the project config's facts, read in one place.

Per-stack values (replicas, sizes, schedules, image tag, domain) live in `infra/<project>/Pulumi.<stack>.yaml`;
the project config (`$MLRIG_CONFIG`, else the repository's mlrig.toml) gives the image names, the serving port,
the service name and the non-root uid; CD sets the tag (`imageTag`) or digest (`imageDigest`). A value a stack
leaves unset takes the component's own default (its Args dataclass, the one home of each default), applied here
rather than in Pulumi.yaml, so the programs behave the same under the engine and under mocks. The components
never read either config: they get what they need as typed Args from these settings.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pulumi

from infra.components import HardenedJobArgs, ModelEndpointArgs, ObjectStoreArgs, SecureNamespaceArgs
from infra.components.pod import Sizing
from infra.release import released_image, stack_name
from pipelines.config import (
    CONFIG_ENV,
    IMAGE_DIGEST_KEY,
    IMAGE_TAG_KEY,
    LIVENESS_PATH,
    READINESS_PATH,
    Config,
    load_config,
    models_url,
)
from pipelines.release.images import image_repository, reference

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")


def project_config() -> Config:
    """$MLRIG_CONFIG (a user's own project), else the repository's mlrig.toml: never the cwd's, which under
    `pulumi up` is the project folder (infra/<project>/)."""
    return load_config(os.environ.get(CONFIG_ENV) or PROJECT_ROOT / "mlrig.toml")


def default(args_type: type, name: str) -> Any:
    """A component's own default for one of its Args (`default(ModelEndpointArgs, "max_replicas")`): one home."""
    spec = {f.name: f for f in dataclasses.fields(args_type)}[name]
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    if spec.default is dataclasses.MISSING:
        raise TypeError(f"{args_type.__name__}.{name} has no default: the program must give it")
    return spec.default


def image_ref(name: str, *, tag: str | None, digest: str | None) -> str:
    """`<name>@<digest>` when a digest is set, else `<name>:<tag>`; `latest` and empty tags are refused."""
    if not digest and not tag:
        raise ValueError(
            f"{IMAGE_TAG_KEY} {tag!r} is not a valid image tag: "
            f"set {IMAGE_TAG_KEY} or {IMAGE_DIGEST_KEY} for this stack"
        )
    try:
        return reference(name, tag=None if digest else tag, digest=digest or None)
    except ValueError as err:
        raise ValueError(f"{IMAGE_DIGEST_KEY if digest else IMAGE_TAG_KEY}: {err}") from err


def _image(config: pulumi.Config, project: Config, kind: str) -> pulumi.Input[str]:
    """The release this stack runs (infra/release.py); the stack file's imageTag/imageDigest only bootstrap it."""
    tag, digest = config.get(IMAGE_TAG_KEY), config.get(IMAGE_DIGEST_KEY)
    return released_image(kind, image_ref(image_repository(project, kind), tag=tag, digest=digest))


def _stack_ref(config: pulumi.Config, project: str) -> str:
    # Pulumi Cloud needs the real organization; a self-managed backend answers `organization`
    return config.get(f"{project}Stack") or stack_name(f"mlrig-{project}")


def read_sizing(config: pulumi.Config, prefix: str, base: Sizing | None = None) -> Sizing:
    """`<prefix>Cpu`, `<prefix>Memory`, `<prefix>CpuLimit`, `<prefix>MemoryLimit` over `base` (default: Sizing())."""
    d = base or Sizing()
    return Sizing(
        cpu=config.get(f"{prefix}Cpu") or d.cpu,
        memory=config.get(f"{prefix}Memory") or d.memory,
        cpu_limit=config.get(f"{prefix}CpuLimit") or d.cpu_limit,
        memory_limit=config.get(f"{prefix}MemoryLimit") or d.memory_limit,
    )


@dataclass(frozen=True, kw_only=True)
class PlatformSettings:
    namespace: str
    user_uid: int  # [images] user_uid: the store's pods run as the same non-root user as ours
    bucket: str
    existing_bucket: str | None  # a cloud bucket to use instead of the in-cluster store
    store_size: str
    storage_class: str | None
    store_image: str
    client_image: str
    quota_cpu: str
    quota_memory: str
    quota_pods: int
    ingress_namespace: str
    monitoring_namespace: str = "monitoring"  # where Prometheus runs; serving lets it scrape /metrics

    @staticmethod
    def models_url(lake_url: str) -> str:
        """<lake>/models, derived by the pipelines' own function (pipelines.config.models_url): one home."""
        return models_url(lake_url)

    @classmethod
    def from_stack_config(cls) -> PlatformSettings:
        c = pulumi.Config()
        store, ns = ObjectStoreArgs, SecureNamespaceArgs
        return cls(
            namespace=c.get("namespace") or f"mlrig-{pulumi.get_stack()}",
            user_uid=project_config().images.user_uid,
            bucket=c.get("bucket") or default(store, "bucket"),
            existing_bucket=c.get("existingBucket"),
            store_size=c.get("storeSize") or default(store, "size"),
            storage_class=c.get("storageClass"),
            store_image=c.get("storeImage") or default(store, "image"),
            client_image=c.get("storeClientImage") or default(store, "client_image"),
            quota_cpu=c.get("quotaCpu") or default(ns, "quota_cpu"),
            quota_memory=c.get("quotaMemory") or default(ns, "quota_memory"),
            quota_pods=c.get_int("quotaPods") or default(ns, "quota_pods"),
            ingress_namespace=c.get("ingressNamespace") or default(ModelEndpointArgs, "ingress_namespace"),
            monitoring_namespace=c.get("monitoringNamespace") or cls.monitoring_namespace,
        )


def _backoff(config: pulumi.Config, fallback: int) -> int:
    value = config.get_int("backoffLimit")
    return fallback if value is None else value  # 0 (never retry) is a real choice


def _pipeline_workload(config: pulumi.Config) -> dict[str, Any]:
    """What the data and ml projects' Jobs share: the platform they run on, the pipeline image, its user."""
    cfg = project_config()
    return {
        "platform_stack": _stack_ref(config, "platform"),
        "image": _image(config, cfg, "pipeline"),
        "user_uid": cfg.images.user_uid,
    }


@dataclass(frozen=True, kw_only=True)
class DataSettings:
    platform_stack: str
    image: pulumi.Input[str]
    user_uid: int
    schedules: dict[str, str]  # stage → cron schedule (UTC)
    deadline_seconds: int
    backoff_limit: int
    sizing: Sizing = field(default_factory=Sizing)
    partitions: int = 1  # refine and features run as this many pods, one shard of the tables each

    STAGES = ("ingest", "refine", "features", "report")
    SCHEDULES: ClassVar[dict[str, str]] = {
        "ingest": "0 2 * * *",
        "refine": "30 2 * * *",
        "features": "0 3 * * *",
        "report": "30 3 * * *",
    }
    SHARDED = ("refine", "features")

    @classmethod
    def from_stack_config(cls) -> DataSettings:
        c = pulumi.Config()
        return cls(
            **_pipeline_workload(c),
            schedules={s: c.get(f"{s}Schedule") or cls.SCHEDULES[s] for s in cls.STAGES},
            deadline_seconds=c.get_int("deadlineSeconds") or default(HardenedJobArgs, "active_deadline_seconds"),
            backoff_limit=_backoff(c, default(HardenedJobArgs, "backoff_limit")),
            sizing=read_sizing(c, "job"),
            partitions=c.get_int("partitions") or default(cls, "partitions"),
        )


_DATABASE_PORTS = {"postgresql": 5432, "postgres": 5432, "mysql": 3306}


def database_port(url: str) -> int:
    """The TCP port of a study database URL (`postgresql+psycopg://u:p@host:5433/db` → 5433), for its egress rule."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if parts.port:
        return parts.port
    if scheme in _DATABASE_PORTS:
        return _DATABASE_PORTS[scheme]
    raise ValueError(f"tuningDbUrl: cannot tell the database port of a {scheme!r} URL; write it as host:PORT")


@dataclass(frozen=True, kw_only=True)
class MlSettings:
    platform_stack: str
    image: pulumi.Input[str]
    user_uid: int
    train_schedule: str = "0 5 * * 1"
    retrain_schedule: str = "30 * * * *"  # hourly: monitor the served traffic, retrain through the gate if needed
    deadline_seconds: int = 7200  # training takes longer than a data step (HardenedJobArgs' 3600)
    backoff_limit: int = 1  # a failed training is rarely fixed by running it again at once
    sizing: Sizing = field(default_factory=Sizing)
    tuning_db_url: pulumi.Output[str] | None = None  # a secret; tuning workers run only when it is set
    tuning_workers: int = 2
    tuning_trials: int = 20

    @classmethod
    def from_stack_config(cls) -> MlSettings:
        c = pulumi.Config()
        return cls(
            **_pipeline_workload(c),
            train_schedule=c.get("trainSchedule") or cls.train_schedule,
            retrain_schedule=c.get("retrainSchedule") or cls.retrain_schedule,
            deadline_seconds=c.get_int("deadlineSeconds") or cls.deadline_seconds,
            backoff_limit=_backoff(c, cls.backoff_limit),
            sizing=read_sizing(c, "train"),
            tuning_db_url=c.get_secret("tuningDbUrl"),
            tuning_workers=c.get_int("tuningWorkers") or cls.tuning_workers,
            tuning_trials=c.get_int("tuningTrials") or cls.tuning_trials,
        )


def _api_keys(config: pulumi.Config, project: Config) -> pulumi.Output[str] | None:
    keys = config.get_secret("apiKeys")
    if keys is None and project.serving.auth == "required":
        raise ValueError(
            "serving: [serving] auth is 'required' but this stack has no API keys, so the service would refuse to "
            "start. Set them as a secret: `pulumi config set --secret apiKeys KEY[,KEY…]` (keys of at least 16 chars)."
        )
    return keys


def _refuse_stack_ab(config: pulumi.Config) -> None:
    """A/B lives in the project config ([serving.variants], pinned into the Bento), not in the stack: say so."""
    if config.get("abTest") is not None or config.get("variants") is not None:
        raise ValueError(
            "serving: `abTest` / `variants` are no longer stack settings. A/B variants are [serving.variants] in the "
            "project config; `mlrig build` pins their models into the Bento and every pod routes by weight and "
            "request key. Remove them from Pulumi.<stack>.yaml "
            "(`pulumi config rm abTest`, `pulumi config rm variants`)."
        )


@dataclass(frozen=True, kw_only=True)
class ServingSettings:
    platform_stack: str
    image: pulumi.Input[str]
    service_name: str  # [serving] service_name: the Deployment, Service and HPA are named after it
    port: int  # [serving] port: where the image listens (its Dockerfile is rendered from the same value)
    user_uid: int
    min_replicas: int  # stack `replicas`
    max_replicas: int
    target_cpu_percent: int
    sizing: Sizing
    variants: tuple[str, ...]  # [serving.variants]: served by every pod of the one Deployment, exported for readers
    ingress_class: str
    ingress_namespace: str
    rollout_timeout_s: int  # `pulumi up` fails when new pods are not Ready by then (old ones keep serving)
    domain: str | None = None  # set → an Ingress for this host
    tls_secret: str | None = None
    # bearer keys the service accepts (comma-separated), a Pulumi secret: `pulumi config set --secret apiKeys …`
    api_keys: pulumi.Output[str] | None = None

    @classmethod
    def from_stack_config(cls) -> ServingSettings:
        c = pulumi.Config()
        cfg = project_config()
        _refuse_stack_ab(c)
        endpoint = ModelEndpointArgs
        return cls(
            platform_stack=_stack_ref(c, "platform"),
            image=_image(c, cfg, "serving"),
            service_name=cfg.serving.service_name,
            port=cfg.serving.port,
            user_uid=cfg.images.user_uid,
            variants=tuple(cfg.serving.variants),
            min_replicas=c.get_int("replicas") or default(endpoint, "min_replicas"),
            max_replicas=c.get_int("maxReplicas") or default(endpoint, "max_replicas"),
            target_cpu_percent=c.get_int("targetCpuPercent") or default(endpoint, "target_cpu_percent"),
            domain=c.get("domain"),
            ingress_class=c.get("ingressClass") or default(endpoint, "ingress_class"),
            tls_secret=c.get("tlsSecretName"),
            ingress_namespace=c.get("ingressNamespace") or default(endpoint, "ingress_namespace"),
            sizing=read_sizing(c, "serving", default(endpoint, "sizing")),
            api_keys=_api_keys(c, cfg),
            rollout_timeout_s=c.get_int("rolloutTimeoutSeconds") or default(endpoint, "rollout_timeout_s"),
        )

    def endpoint_args(self, **wiring: Any) -> ModelEndpointArgs:
        """The endpoint's Args from these settings; `wiring` adds what comes from other stacks (namespace, …)."""
        return ModelEndpointArgs(
            image=self.image,
            port=self.port,
            user_uid=self.user_uid,
            liveness_path=LIVENESS_PATH,
            readiness_path=READINESS_PATH,
            min_replicas=self.min_replicas,
            max_replicas=self.max_replicas,
            target_cpu_percent=self.target_cpu_percent,
            sizing=self.sizing,
            api_keys=self.api_keys,
            rollout_timeout_s=self.rollout_timeout_s,
            domain=self.domain,
            ingress_class=self.ingress_class,
            tls_secret=self.tls_secret,
            ingress_namespace=self.ingress_namespace,
            **wiring,
        )
