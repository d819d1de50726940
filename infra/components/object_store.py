"""ObjectStore: where the lake and the model exports live.

By default an in-cluster S3-compatible store (MinIO: Deployment + PersistentVolumeClaim + Service, its bucket made
by a one-off Job, reachable only from lake clients); or, when `existing_bucket` is named, that cloud bucket and
nothing in the cluster. Credentials come from Pulumi secrets into one Kubernetes Secret either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.components.job import HardenedJob, HardenedJobArgs
from infra.components.namespace import OBJECT_STORE_LABELS, OBJECT_STORE_PORT
from infra.components.pod import LAKE_ACCESS_LABEL, ContainerArgs, Sizing, pod_spec


@dataclass(frozen=True, kw_only=True)
class ObjectStoreArgs:
    namespace: pulumi.Input[str]
    access_key: pulumi.Input[str]  # Pulumi secrets: `pulumi config set --secret`
    secret_key: pulumi.Input[str]
    user_uid: int  # the non-root uid the store's and the bucket Job's containers run as
    bucket: str = "mlrig"
    existing_bucket: str | None = None
    size: str = "5Gi"
    storage_class: str | None = None
    image: str = "quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z"
    client_image: str = "quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z"
    region: str = "us-east-1"
    service_account: pulumi.Input[str] | None = None  # for the bucket Job


class ObjectStore(pulumi.ComponentResource):
    bucket: pulumi.Output[str]
    lake_url: pulumi.Output[str]
    raw_url: pulumi.Output[str]  # s3://<bucket>/raw: where raw drops land for `mlrig ingest` (pipelines/data/drops.py)
    endpoint: pulumi.Output[str]
    credentials_secret: pulumi.Output[str]
    client_settings: pulumi.Output[str]  # ConfigMap: MLRIG_LAKE_URL, MLRIG_RAW_URL and the S3 client's settings

    def __init__(self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlrig:platform:ObjectStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        secret = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata={"name": f"{name}-credentials", "namespace": args.namespace},
            type="Opaque",
            string_data={
                "AWS_ACCESS_KEY_ID": pulumi.Output.secret(args.access_key),
                "AWS_SECRET_ACCESS_KEY": pulumi.Output.secret(args.secret_key),
            },
            opts=child,
        )
        self.credentials_secret = secret.metadata.apply(lambda m: m.name)
        if args.existing_bucket:
            self.bucket = pulumi.Output.from_input(args.existing_bucket)
            self.endpoint = pulumi.Output.from_input("")
        else:
            self.bucket = pulumi.Output.from_input(args.bucket)
            self.endpoint = self._in_cluster(name, args, child)
        self.lake_url = pulumi.Output.concat("s3://", self.bucket, "/lake")
        self.raw_url = pulumi.Output.concat("s3://", self.bucket, "/raw")  # a pod's own disk is empty and brief
        settings: dict[str, pulumi.Input[str]] = {
            "MLRIG_LAKE_URL": self.lake_url,
            "MLRIG_RAW_URL": self.raw_url,
            "AWS_REGION": args.region,
        }
        if not args.existing_bucket:  # MinIO over plain HTTP inside the namespace; one writer per table
            settings |= {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ALLOW_HTTP": "true",
                "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
            }
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-client",
            metadata={"name": f"{name}-client", "namespace": args.namespace},
            data=settings,
            opts=child,
        )
        self.client_settings = config_map.metadata.apply(lambda m: m.name)
        self.register_outputs(
            {"bucket": self.bucket, "endpoint": self.endpoint, "client_settings": self.client_settings}
        )

    def _in_cluster(self, name: str, args: ObjectStoreArgs, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        labels = {**OBJECT_STORE_LABELS, "app.kubernetes.io/part-of": "mlrig"}
        pvc = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata={
                "name": f"{name}-data",
                "namespace": args.namespace,
                # Claims of a WaitForFirstConsumer class (kind's, EKS's gp3) bind only once the store's pod exists, so
                # waiting here would deadlock; the Deployment's own await (available replicas) covers the volume.
                "annotations": {"pulumi.com/skipAwait": "true"},
            },
            spec={
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": args.size}},
                **({"storageClassName": args.storage_class} if args.storage_class else {}),
            },
            opts=child,
        )
        probe = {"httpGet": {"path": "/minio/health/live", "port": OBJECT_STORE_PORT}, "periodSeconds": 10}
        server = ContainerArgs(
            name="minio",
            image=args.image,
            user_uid=args.user_uid,
            args=("server", "/data", "--address", f":{OBJECT_STORE_PORT}"),
            env={"HOME": "/tmp", "MINIO_BROWSER": "off"},  # noqa: S108 - an emptyDir
            secret_env={
                "MINIO_ROOT_USER": (self.credentials_secret, "AWS_ACCESS_KEY_ID"),
                "MINIO_ROOT_PASSWORD": (self.credentials_secret, "AWS_SECRET_ACCESS_KEY"),
            },
            sizing=Sizing(cpu="100m", memory="256Mi", cpu_limit="1", memory_limit="1Gi"),
            ports=(OBJECT_STORE_PORT,),
            probes={
                "livenessProbe": probe,
                "readinessProbe": {**probe, "httpGet": {"path": "/minio/health/ready", "port": OBJECT_STORE_PORT}},
            },
        )
        spec = pod_spec(
            [server],
            extra_volumes=[
                {"name": "data", "persistentVolumeClaim": {"claimName": pvc.metadata.apply(lambda m: m.name)}}
            ],
        )
        spec["containers"][0]["volumeMounts"].append({"name": "data", "mountPath": "/data"})
        k8s.apps.v1.Deployment(
            name,
            metadata={"name": name, "namespace": args.namespace, "labels": labels},
            spec={
                "replicas": 1,  # one writer on a ReadWriteOnce volume
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": OBJECT_STORE_LABELS},
                "template": {"metadata": {"labels": labels}, "spec": spec},
            },
            opts=child,
        )
        service = k8s.core.v1.Service(
            name,
            metadata={"name": name, "namespace": args.namespace, "labels": labels},
            spec={
                "selector": OBJECT_STORE_LABELS,
                "ports": [{"name": "s3", "port": OBJECT_STORE_PORT, "targetPort": OBJECT_STORE_PORT}],
            },
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-ingress",
            metadata={"name": f"{name}-from-lake-clients", "namespace": args.namespace},
            spec={
                "podSelector": {"matchLabels": OBJECT_STORE_LABELS},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {LAKE_ACCESS_LABEL: "true"}}}],
                        "ports": [{"port": OBJECT_STORE_PORT}],
                    }
                ],
            },
            opts=child,
        )
        endpoint = pulumi.Output.concat(
            "http://",
            service.metadata.apply(lambda m: m.name),
            ".",
            args.namespace,
            f".svc.cluster.local:{OBJECT_STORE_PORT}",
        )
        HardenedJob(
            f"{name}-make-bucket",
            HardenedJobArgs(
                namespace=args.namespace,
                service_account=args.service_account or "default",
                active_deadline_seconds=600,
                backoff_limit=6,  # the store may still be starting
                container=ContainerArgs(
                    name="mc",
                    image=args.client_image,
                    user_uid=args.user_uid,
                    command=("/bin/sh", "-c"),
                    args=(
                        'mc alias set store "$S3_ENDPOINT" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"'
                        f" && mc mb --ignore-existing store/{args.bucket}",
                    ),
                    env={"S3_ENDPOINT": endpoint, "MC_CONFIG_DIR": "/tmp/mc"},  # noqa: S108 - an emptyDir
                    secret_env={
                        "AWS_ACCESS_KEY_ID": (self.credentials_secret, "AWS_ACCESS_KEY_ID"),
                        "AWS_SECRET_ACCESS_KEY": (self.credentials_secret, "AWS_SECRET_ACCESS_KEY"),
                    },
                    sizing=Sizing(cpu="50m", memory="64Mi", cpu_limit="200m", memory_limit="128Mi"),
                ),
            ),
            opts=child,
        )
        return endpoint
