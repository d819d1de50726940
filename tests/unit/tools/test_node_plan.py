"""The real node's host plan: every slot's addresses, names and cgroup are its own, and the system images the
node imports are valid OCI archives. (The node itself runs in tests/e2e.)"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import tarfile
from pathlib import Path

from tools import addons
from tools.nodehost import MAX_SLOTS, Slot


def test_no_two_slots_share_an_address_range_or_a_name():
    slots = [Slot(i) for i in range(MAX_SLOTS)]
    networks = [
        ipaddress.ip_network(c, strict=False) for s in slots for c in (f"{s.host_ip}/30", s.pod_cidr, s.service_cidr)
    ]
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])
    for attr in ("netns", "host_if", "cgroup_name"):
        assert len({getattr(s, attr) for s in slots}) == MAX_SLOTS
    assert all(len(s.host_if) <= 15 for s in slots)  # IFNAMSIZ


def test_a_slots_service_addresses_lie_in_its_service_range():
    slot = Slot(17)
    services = ipaddress.ip_network(slot.service_cidr)
    assert ipaddress.ip_address(slot.api_service_ip) in services and ipaddress.ip_address(slot.dns_ip) in services
    assert ipaddress.ip_address(slot.node_ip) in ipaddress.ip_network(f"{slot.host_ip}/30", strict=False)


def test_a_binary_becomes_an_oci_archive_containerd_can_import(tmp_path: Path):
    binary = tmp_path / "hello"
    binary.write_bytes(b"\x7fELF not really")
    archive = addons.oci_archive(binary, "mlrig.local/hello:1", tmp_path / "hello.tar", entrypoint=["/hello"])
    with tarfile.open(archive) as tar:
        index = json.loads(tar.extractfile("index.json").read())
        (entry,) = index["manifests"]
        assert entry["annotations"]["io.containerd.image.name"] == "mlrig.local/hello:1"
        manifest_bytes = tar.extractfile(f"blobs/sha256/{entry['digest'].split(':')[1]}").read()
        assert hashlib.sha256(manifest_bytes).hexdigest() == entry["digest"].split(":")[1]
        manifest = json.loads(manifest_bytes)
        (layer,) = manifest["layers"]
        layer_tar = tar.extractfile(f"blobs/sha256/{layer['digest'].split(':')[1]}")
        with tarfile.open(fileobj=layer_tar) as files:
            assert files.getmember("hello").mode == 0o755
        config = json.loads(tar.extractfile(f"blobs/sha256/{manifest['config']['digest'].split(':')[1]}").read())
        assert config["config"]["Entrypoint"] == ["/hello"] and config["rootfs"]["diff_ids"] == [layer["digest"]]


def test_addon_objects_post_to_their_collections():
    objects = addons.coredns_objects("mlrig.local/coredns:1", "10.0.0.10") + addons.metrics_server_objects("m:1")
    paths = {addons.create_path(o) for o in objects}
    assert "/api/v1/namespaces/kube-system/services" in paths
    assert "/apis/apiregistration.k8s.io/v1/apiservices" in paths
    assert "/apis/rbac.authorization.k8s.io/v1/clusterroles" in paths


def test_a_pods_log_is_read_from_the_nodes_files_as_the_container_wrote_it(tmp_path: Path):
    """The fallback a failed Job's report uses when the kubelet answers nothing: CRI log lines, partial ones
    (P) joined with their continuation, both streams, per container and restart."""
    from tools.cluster import ClusterInfo
    from tools.node import NodePaths

    folder = NodePaths(tmp_path / "node").pod_logs / "mlrig-dev_ingest-x_uid-1" / "ingest"
    folder.mkdir(parents=True)
    (folder / "0.log").write_text(
        "2026-12-04T22:00:00.1Z stdout F ingest: reading s3://mlrig/raw\n"
        "2026-12-04T22:00:00.2Z stderr P ingest failed: no drops \n"
        "2026-12-04T22:00:00.3Z stderr F in s3://mlrig/raw.\n"
    )
    info = ClusterInfo(tmp_path / "kubeconfig", "https://x", "t", tmp_path / "ca", tmp_path, slot=Slot(0))
    assert info.pod_log_files("mlrig-dev", "ingest-x", "uid-1") == {
        "ingest/0": "ingest: reading s3://mlrig/raw\ningest failed: no drops in s3://mlrig/raw.\n"
    }
    assert info.pod_log_files("mlrig-dev", "other", "uid-2") == {}
