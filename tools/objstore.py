"""The object store's stand-in image, for clusters that cannot pull the platform's default (MinIO from quay.io).

The platform keeps MinIO as its default for users (`storeImage`/`storeClientImage` in the platform stack).
Here no public registry is reachable and MinIO's own module closure is not what we want to build for a test,
so the e2e sets both to this image: our S3 server (gofakes3 behind MinIO's command line, credentials variables
and health paths) as `minio`, and the `mc` subset the bucket Job runs, on the project's base image (the Job's
`/bin/sh -c` needs a shell). tools/go/objstore says what it does not do (signatures are not verified).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import docker

from infra.images.base import ensure_base_image
from infra.images.build import build_image
from pipelines.config import Config
from tools.cluster import ClusterInfo

IMAGE = "mlrig-object-store"
DOCKERFILE = """ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY server /usr/local/bin/minio
COPY mc /usr/local/bin/mc
ARG USER_UID
USER ${USER_UID}:${USER_UID}
ENTRYPOINT ["minio"]
"""


def build_stand_in(client: docker.DockerClient, config: Config, tools_dir: Path, tag: str) -> str:
    """Build `mlrig-object-store:<tag>` from the binaries build-tools.sh put in <tools>/objstore; return its ref."""
    ensure_base_image(client, config.images)
    ref = f"{IMAGE}:{tag}"
    with tempfile.TemporaryDirectory(prefix="mlrig-objstore-") as tmp:
        context = Path(tmp)
        for binary in ("server", "mc"):
            shutil.copy2(tools_dir / "objstore" / binary, context / binary)
        (context / "Dockerfile").write_text(DOCKERFILE)
        labels = {"org.opencontainers.image.title": "mlrig object store stand-in (S3 API, MinIO command line)"}
        args = {"BASE_IMAGE": config.images.base_image, "USER_UID": str(config.images.user_uid)}
        build_image(client, context, ref, labels, args)
    return ref


def create_store_volume(kube, cluster: ClusterInfo, name: str, path: str, uid: int, size: str = "1Gi") -> None:
    """The node folder `path` as a Retain hostPath PersistentVolume `name`, for the platform's store claim to bind
    (a cluster without a storage provisioner). Owned by the store's `uid`: a hostPath is not chowned."""
    from kubernetes import client

    cluster.node_dir(path, owner=uid)
    client.CoreV1Api(kube).create_persistent_volume(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": path, "type": "Directory"},
            },
        }
    )
