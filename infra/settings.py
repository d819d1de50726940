"""Typed settings for each Pulumi project, read from its stack config with every default visible here.

Per-stack values (replicas, sizes, schedules, image tag, domain) live in `infra/<project>/Pulumi.<stack>.yaml`;
image names come from `mlrig.toml [infra]`, and CD sets the tag (`imageTag`) or digest (`imageDigest`).
Defaults are applied here, not in Pulumi.yaml, so the programs behave the same under the engine and under mocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pulumi

from pipelines.config import Config, load_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def project_config() -> Config:
    return load_config(PROJECT_ROOT / "mlrig.toml")


def image_ref(name: str, *, tag: str | None, digest: str | None) -> str:
    """`<name>@<digest>` when CD pinned a digest, else `<name>:<tag>`; `latest` and empty tags are refused."""
    if digest:
        if not _DIGEST.match(digest):
            raise ValueError(f"imageDigest {digest!r} is not a sha256 digest (sha256:<64 hex>)")
        return f"{name}@{digest}"
    if not tag or not _TAG.match(tag):
        raise ValueError(f"imageTag {tag!r} is not a valid image tag: set imageTag or imageDigest for this stack")
    if tag == "latest":
        raise ValueError("imageTag 'latest' moves under you: set an immutable tag or imageDigest")
    return f"{name}:{tag}"


def _image(config: pulumi.Config, name: str) -> str:
    return image_ref(name, tag=config.get("imageTag"), digest=config.get("imageDigest"))


def _stack_ref(config: pulumi.Config, project: str) -> str:
    return config.get(f"{project}Stack") or f"organization/mlrig-{project}/{pulumi.get_stack()}"


@dataclass(frozen=True, kw_only=True)
class Sizing:
    cpu: str = "250m"
    memory: str = "512Mi"
    cpu_limit: str = "1"
    memory_limit: str = "1Gi"

    @classmethod
    def read(cls, config: pulumi.Config, prefix: str) -> Sizing:
        d = cls()
        return cls(
            cpu=config.get(f"{prefix}Cpu") or d.cpu,
            memory=config.get(f"{prefix}Memory") or d.memory,
            cpu_limit=config.get(f"{prefix}CpuLimit") or d.cpu_limit,
            memory_limit=config.get(f"{prefix}MemoryLimit") or d.memory_limit,
        )


@dataclass(frozen=True, kw_only=True)
class PlatformSettings:
    namespace: str
    bucket: str = "mlrig"
    existing_bucket: str | None = None  # a cloud bucket to use instead of the in-cluster store
    store_size: str = "5Gi"
    storage_class: str | None = None
    store_image: str = "quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z"
    client_image: str = "quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z"
    quota_cpu: str = "8"
    quota_memory: str = "16Gi"
    quota_pods: int = 40
    ingress_namespace: str = "ingress-nginx"
    monitoring_namespace: str = "monitoring"  # where Prometheus runs; serving lets it scrape /metrics

    @classmethod
    def from_stack_config(cls) -> PlatformSettings:
        c = pulumi.Config()
        d = cls(namespace="")
        return cls(
            namespace=c.get("namespace") or f"mlrig-{pulumi.get_stack()}",
            bucket=c.get("bucket") or d.bucket,
            existing_bucket=c.get("existingBucket"),
            store_size=c.get("storeSize") or d.store_size,
            storage_class=c.get("storageClass"),
            store_image=c.get("storeImage") or d.store_image,
            client_image=c.get("storeClientImage") or d.client_image,
            quota_cpu=c.get("quotaCpu") or d.quota_cpu,
            quota_memory=c.get("quotaMemory") or d.quota_memory,
            quota_pods=c.get_int("quotaPods") or d.quota_pods,
            ingress_namespace=c.get("ingressNamespace") or d.ingress_namespace,
            monitoring_namespace=c.get("monitoringNamespace") or d.monitoring_namespace,
        )


@dataclass(frozen=True, kw_only=True)
class DataSettings:
    platform_stack: str
    image: str
    schedules: dict[str, str]  # stage → cron schedule (UTC)
    deadline_seconds: int = 3600
    backoff_limit: int = 2
    sizing: Sizing = field(default_factory=Sizing)
    partitions: int = 1  # refine and features run as this many pods, one shard of the tables each

    STAGES = ("ingest", "refine", "features", "report")
    SHARDED = ("refine", "features")

    @classmethod
    def from_stack_config(cls) -> DataSettings:
        c = pulumi.Config()
        cfg = project_config()
        defaults = {"ingest": "0 2 * * *", "refine": "30 2 * * *", "features": "0 3 * * *", "report": "30 3 * * *"}
        return cls(
            platform_stack=_stack_ref(c, "platform"),
            image=_image(c, f"{cfg.images.registry}/{cfg.images.pipeline_name}"),
            schedules={s: c.get(f"{s}Schedule") or defaults[s] for s in cls.STAGES},
            deadline_seconds=c.get_int("deadlineSeconds") or 3600,
            backoff_limit=c.get_int("backoffLimit") if c.get_int("backoffLimit") is not None else 2,
            sizing=Sizing.read(c, "job"),
            partitions=c.get_int("partitions") or 1,
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
    image: str
    train_schedule: str = "0 5 * * 1"
    retrain_schedule: str = "30 * * * *"  # hourly: monitor the served traffic, retrain through the gate if needed
    deadline_seconds: int = 7200
    backoff_limit: int = 1
    sizing: Sizing = field(default_factory=Sizing)
    tuning_db_url: pulumi.Output[str] | None = None  # a secret; tuning workers run only when it is set
    tuning_workers: int = 2
    tuning_trials: int = 20

    @classmethod
    def from_stack_config(cls) -> MlSettings:
        c = pulumi.Config()
        cfg = project_config()
        return cls(
            platform_stack=_stack_ref(c, "platform"),
            image=_image(c, f"{cfg.images.registry}/{cfg.images.pipeline_name}"),
            train_schedule=c.get("trainSchedule") or "0 5 * * 1",
            retrain_schedule=c.get("retrainSchedule") or "30 * * * *",
            deadline_seconds=c.get_int("deadlineSeconds") or 7200,
            backoff_limit=c.get_int("backoffLimit") if c.get_int("backoffLimit") is not None else 1,
            sizing=Sizing.read(c, "train"),
            tuning_db_url=c.get_secret("tuningDbUrl"),
            tuning_workers=c.get_int("tuningWorkers") or 2,
            tuning_trials=c.get_int("tuningTrials") or 20,
        )


@dataclass(frozen=True, kw_only=True)
class Variant:
    name: str
    model_tag: str | None = None  # MLRIG_MODEL_TAG; None serves the champion


def _api_keys(config: pulumi.Config, project: Config) -> pulumi.Output[str] | None:
    keys = config.get_secret("apiKeys")
    if keys is None and project.serving.auth == "required":
        raise ValueError(
            "serving: [serving] auth is 'required' but this stack has no API keys, so the service would refuse to "
            "start. Set them as a secret: `pulumi config set --secret apiKeys KEY[,KEY…]` (keys of at least 16 chars)."
        )
    return keys


@dataclass(frozen=True, kw_only=True)
class ServingSettings:
    platform_stack: str
    image: str
    port: int
    replicas: int = 1
    max_replicas: int = 3
    target_cpu_percent: int = 70
    variants: tuple[Variant, ...] = (Variant(name="champion"),)
    domain: str | None = None  # set → an Ingress for this host
    ingress_class: str = "nginx"
    tls_secret: str | None = None
    ingress_namespace: str = "ingress-nginx"
    sizing: Sizing = field(default_factory=Sizing)
    # bearer keys the service accepts (comma-separated), a Pulumi secret: `pulumi config set --secret apiKeys …`
    api_keys: pulumi.Output[str] | None = None
    rollout_timeout_s: int = 600  # `pulumi up` fails when new pods are not Ready by then (old ones keep serving)

    @classmethod
    def from_stack_config(cls) -> ServingSettings:
        c = pulumi.Config()
        cfg = project_config()
        variants = (Variant(name="champion"),)
        if c.get_bool("abTest"):
            raw = c.require_object("variants")
            variants = tuple(Variant(name=v["name"], model_tag=v.get("modelTag")) for v in raw)
            if len(variants) < 2:
                raise ValueError("abTest is on: `variants` needs at least two entries ({name, modelTag})")
        return cls(
            platform_stack=_stack_ref(c, "platform"),
            image=_image(c, f"{cfg.images.registry}/{cfg.serving.service_name}"),
            port=cfg.serving.port,
            replicas=c.get_int("replicas") or 1,
            max_replicas=c.get_int("maxReplicas") or 3,
            target_cpu_percent=c.get_int("targetCpuPercent") or 70,
            variants=variants,
            domain=c.get("domain"),
            ingress_class=c.get("ingressClass") or "nginx",
            tls_secret=c.get("tlsSecretName"),
            ingress_namespace=c.get("ingressNamespace") or "ingress-nginx",
            sizing=Sizing.read(c, "serving"),
            api_keys=_api_keys(c, cfg),
            rollout_timeout_s=c.get_int("rolloutTimeoutSeconds") or 600,
        )
