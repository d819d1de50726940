"""What a real cluster runs besides the node: cluster DNS (CoreDNS) and metrics-server, as pods in kube-system,
from images we make out of the binaries build-tools.sh built (no public registry is reachable here).

An image here is one layer holding one static binary: written as an OCI archive (cached beside the binaries)
and imported straight into the node's containerd, so neither needs a registry; pods use them with
`imagePullPolicy: Never`. The pause image (the pod sandbox) is made the same way.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from tools.node import CLUSTER_DOMAIN, PAUSE_IMAGE

COREDNS_IMAGE = "mlrig.local/coredns:{version}"
METRICS_SERVER_IMAGE = "mlrig.local/metrics-server:{version}"
NOBODY = 65534


def _blob(data: bytes) -> tuple[str, bytes]:
    return "sha256:" + hashlib.sha256(data).hexdigest(), data


def oci_archive(binary: Path, name: str, out: Path, *, entrypoint: list[str]) -> Path:
    """`out`: an OCI image archive named `name` whose only file is `binary` at /<basename> (written once)."""
    if out.exists():
        return out
    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w") as layer:
        info = layer.gettarinfo(str(binary), arcname=binary.name)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mode = 0o755
        info.mtime = 0
        with binary.open("rb") as f:
            layer.addfile(info, f)
        tmp = tarfile.TarInfo("tmp")  # a writable /tmp for programs that want one (an emptyDir covers it)
        tmp.type, tmp.mode, tmp.mtime = tarfile.DIRTYPE, 0o1777, 0
        layer.addfile(tmp)
    layer_digest, layer_bytes = _blob(layer_buf.getvalue())
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": entrypoint, "User": f"{NOBODY}:{NOBODY}"},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }
    config_digest, config_bytes = _blob(json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config_bytes),
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": len(layer_bytes)}
        ],
    }
    manifest_digest, manifest_bytes = _blob(json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name},
            }
        ],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_suffix(".tmp")
    with tarfile.open(tmp_out, "w") as archive:
        for path, data in (
            ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
            ("index.json", json.dumps(index).encode()),
            *(
                (f"blobs/sha256/{d.split(':')[1]}", b)
                for d, b in (
                    (layer_digest, layer_bytes),
                    (config_digest, config_bytes),
                    (manifest_digest, manifest_bytes),
                )
            ),
        ):
            info = tarfile.TarInfo(path)
            info.size, info.mtime = len(data), 0
            archive.addfile(info, io.BytesIO(data))
    tmp_out.rename(out)
    return out


def system_images(tools_dir: Path, versions: dict[str, str]) -> dict[str, Path]:
    """The node's own images as OCI archives under <tools>/images/, made from the built binaries."""
    bin_dir, out = tools_dir / "bin", tools_dir / "images"
    coredns = COREDNS_IMAGE.format(version=versions["COREDNS_VERSION"])
    metrics = METRICS_SERVER_IMAGE.format(version=versions["METRICS_SERVER_VERSION"])
    return {
        PAUSE_IMAGE: oci_archive(bin_dir / "pause", PAUSE_IMAGE, out / "pause.tar", entrypoint=["/pause"]),
        coredns: oci_archive(bin_dir / "coredns", coredns, out / "coredns.tar", entrypoint=["/coredns"]),
        metrics: oci_archive(
            bin_dir / "metrics-server", metrics, out / "metrics-server.tar", entrypoint=["/metrics-server"]
        ),
    }


# ------------------------------------------------------------------------------------------------ manifests


def _pod_security(read_only: bool = True) -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": NOBODY,
        "runAsGroup": NOBODY,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def coredns_objects(image: str, dns_ip: str) -> list[dict]:
    """CoreDNS answering <svc>.<ns>.svc.cluster.local from the API; no upstream (this machine has none to offer)."""
    labels = {"k8s-app": "kube-dns"}
    corefile = (
        ".:1053 {\n    errors\n    health :8080\n    ready :8181\n"
        f"    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{\n       pods insecure\n"
        "       fallthrough in-addr.arpa ip6.arpa\n    }\n    cache 5\n}\n"
    )
    return [
        _service_account("coredns"),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
            ],
        },
        _binding("system:coredns", "system:coredns", "coredns"),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": corefile},
        },
        _system_deployment(
            "coredns",
            labels,
            {
                "name": "coredns",
                "image": image,
                "imagePullPolicy": "Never",
                "args": ["-conf", "/etc/coredns/Corefile"],
                "ports": [
                    {"containerPort": 1053, "protocol": "UDP", "name": "dns"},
                    {"containerPort": 1053, "protocol": "TCP", "name": "dns-tcp"},
                ],
                "resources": {
                    "requests": {"cpu": "50m", "memory": "32Mi"},
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                },
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 2},
                "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
                "securityContext": _pod_security(),
                "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns"}],
            },
            volumes=[{"name": "config", "configMap": {"name": "coredns"}}],
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
            "spec": {
                "selector": labels,
                "clusterIP": dns_ip,
                "ports": [
                    {"name": "dns", "port": 53, "targetPort": 1053, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "targetPort": 1053, "protocol": "TCP"},
                ],
            },
        },
    ]


def metrics_server_objects(image: str) -> list[dict]:
    """metrics-server behind the aggregated API (metrics.k8s.io), reading each kubelet's /metrics/resource."""
    labels = {"k8s-app": "metrics-server"}
    sa = "metrics-server"
    return [
        _service_account(sa),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:metrics-server"},
            "rules": [
                {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]},
            ],
        },
        _binding("system:metrics-server", "system:metrics-server", sa),
        _binding("metrics-server:system:auth-delegator", "system:auth-delegator", sa),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "metrics-server-auth-reader", "namespace": "kube-system"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "extension-apiserver-authentication-reader",
            },
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": "kube-system"}],
        },
        _system_deployment(
            sa,
            labels,
            {
                "name": "metrics-server",
                "image": image,
                "imagePullPolicy": "Never",
                "args": [
                    "--cert-dir=/tmp",
                    "--secure-port=10250",
                    "--kubelet-preferred-address-types=InternalIP",
                    # the kubelet's serving certificate is self-signed (no cluster CA signs it here)
                    "--kubelet-insecure-tls",
                    "--metric-resolution=15s",
                ],
                "ports": [{"containerPort": 10250, "name": "https"}],
                "resources": {
                    "requests": {"cpu": "50m", "memory": "64Mi"},
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                },
                "readinessProbe": {
                    "httpGet": {"path": "/readyz", "port": 10250, "scheme": "HTTPS"},
                    "periodSeconds": 5,
                },
                "securityContext": _pod_security(),
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir
            },
            volumes=[{"name": "tmp", "emptyDir": {}}],
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "metrics-server", "namespace": "kube-system", "labels": labels},
            "spec": {"selector": labels, "ports": [{"name": "https", "port": 443, "targetPort": 10250}]},
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                "service": {"name": "metrics-server", "namespace": "kube-system"},
                "insecureSkipTLSVerify": True,  # metrics-server's certificate is self-signed, as upstream's manifest
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        },
    ]


def _service_account(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "kube-system"}}


def _system_deployment(service_account: str, labels: dict, container: dict, volumes: list[dict]) -> dict:
    """One replica of a cluster add-on in kube-system, at system-cluster-critical priority, under its own account."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": container["name"], "namespace": "kube-system", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": service_account,
                    "priorityClassName": "system-cluster-critical",
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def _binding(name: str, role: str, sa: str) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": "kube-system"}],
    }


_PLURALS = {
    "ServiceAccount": "serviceaccounts",
    "ConfigMap": "configmaps",
    "Service": "services",
    "Deployment": "deployments",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "RoleBinding": "rolebindings",
    "APIService": "apiservices",
}


def create_path(obj: dict) -> str:
    """The collection URL a POST of `obj` goes to."""
    group_version = obj["apiVersion"]
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    namespace = obj["metadata"].get("namespace")
    return f"{base}{f'/namespaces/{namespace}' if namespace else ''}/{_PLURALS[obj['kind']]}"
