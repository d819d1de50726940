"""The local cluster itself: two real nodes at once on one host (as parallel CI jobs and engineers start them),
each with its own addresses, Services, DNS and iptables; and after they stop, nothing of either is left."""

from __future__ import annotations

import ssl
import subprocess
import urllib.request
from pathlib import Path

from tools import cluster, nodehost


def api_through_its_service(info: cluster.ClusterInfo) -> int:
    """GET /readyz of the API server via the `kubernetes` Service's ClusterIP: kube-proxy in that node's namespace
    forwards it, so this proves the host's route into the node and the node's Service routing."""
    host, port = info.service_address("default", "kubernetes")
    request = urllib.request.Request(f"https://{host}:{port}/readyz", headers={"Authorization": f"Bearer {info.token}"})
    context = ssl.create_default_context(cafile=str(info.ca_file))
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        return answer.status


def test_two_clusters_run_side_by_side_and_leave_nothing_behind(tools_dir: Path, tmp_path: Path):
    bin_dir = tools_dir / "bin"
    with (
        cluster.local_cluster(bin_dir, tmp_path / "a") as a,
        cluster.local_cluster(bin_dir, tmp_path / "b") as b,
    ):
        assert a.slot != b.slot and a.api_url != b.api_url and a.registry != b.registry
        assert api_through_its_service(a) == 200 and api_through_its_service(b) == 200
        rules = [info.node_run("iptables-save", "-t", "nat").stdout for info in (a, b)]
        assert all("KUBE-SERVICES" in r for r in rules)  # each node has kube-proxy's chains, in its own namespace
        assert (
            "KUBE-SERVICES" not in subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
        )
        dns = [info.service_address("kube-system", "kube-dns", "dns-tcp")[0] for info in (a, b)]
        assert dns == [a.slot.dns_ip, b.slot.dns_ip]
        both = (a, b)
    for info in both:
        assert nodehost.leftovers(info.slot) == [], info.slot
    assert cluster.leftover(bin_dir, *both) == []
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(tmp_path) not in mounts  # no overlay, tmpfs or netns mount of either node reached the host
