"""A real Kubernetes node in its own network and mount namespace: containerd (+ Debian's runc), the CNI bridge,
kubelet and kube-proxy, all built by build-tools.sh and configured so that nothing is shared with the host or
with another cluster's node.

The namespaces are held by one `holder` process: it enters the slot's network namespace with a new mount
namespace (a slave of the host's: host mounts show, ours never leak out), mounts a private /run and /var/log,
binds the node's own state folder over /var/lib (so containerd, kubelet and CNI keep their default paths yet
write under the cluster's workdir), and a /sys of its own network (with the host's cgroup mounts moved in).
The daemons join that holder with nsenter and every process (daemons, shims, containers) sits in the slot's
cgroup subtree, so stopping is: kill the subtree, and the mount namespace — every overlay, tmpfs and netns
mount with it — is gone. What was seen to be needed on these machines (shared/README.md): cgroup v1 with
cgroupfs, no oom_score_adj below ours, no raised rlimits, a pause image of our own, registries over http.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tools.nodehost import Slot, cgroup_root

RUNC = "/usr/sbin/runc"  # Debian's runc: it needs libseccomp (cgo), which our CGO_ENABLED=0 builds cannot link
PAUSE_IMAGE = "mlrig.local/pause:1"
CLUSTER_DOMAIN = "cluster.local"

HOLDER_SCRIPT = """
mount -t tmpfs -o mode=0755 mlrig-run /run
mount -t tmpfs -o mode=0755 mlrig-log /var/log
mount --bind {var_lib} /var/lib
mkdir /run/cgroup && mount --rbind /sys/fs/cgroup /run/cgroup
mount -t sysfs sysfs /sys
mount --move /run/cgroup /sys/fs/cgroup
exec sleep infinity
"""


@dataclass(frozen=True)
class NodePaths:
    workdir: Path  # <cluster workdir>/node

    @property
    def var_lib(self) -> Path:  # appears as /var/lib inside the node
        return self.workdir / "var-lib"

    @property
    def etc(self) -> Path:
        return self.workdir / "etc"

    @property
    def pod_logs(self) -> Path:
        return self.workdir / "pod-logs"

    @property
    def containerd_sock(self) -> str:  # inside the node's private /run
        return "/run/containerd/containerd.sock"


def holder_argv(slot: Slot, paths: NodePaths) -> list[str]:
    script = HOLDER_SCRIPT.format(var_lib=shlex.quote(str(paths.var_lib)))
    return [
        "unshare", "--mount", "--propagation", "slave", "--",
        "nsenter", f"--net=/run/netns/{slot.netns}", "--",
        "sh", "-euc", script,
    ]  # fmt: skip


def in_node(holder_pid: int, argv: list[str]) -> list[str]:
    """`argv` run inside the node's network and mount namespaces."""
    return ["nsenter", f"--target={holder_pid}", "--mount", "--net", "--", *argv]


def write_configs(slot: Slot, paths: NodePaths, *, tools_dir: Path, api_url: str, node_name: str,
                  kubeconfig: Path, ca_file: Path, registries: dict[str, str]) -> dict[str, Path]:  # fmt: skip
    """containerd, CNI, kubelet and kube-proxy configuration files; returns their paths by daemon."""
    for d in (paths.var_lib, paths.etc / "cni", paths.etc / "certs.d", paths.pod_logs):
        d.mkdir(parents=True, exist_ok=True)
    spec = paths.etc / "base-runtime-spec.json"
    spec.write_text(json.dumps(_base_runtime_spec(tools_dir), indent=1))
    for host, endpoint in registries.items():
        # every pull of `host/...` goes to our plain-HTTP registry (a pull-through mirror, as air-gapped clusters do)
        d = paths.etc / "certs.d" / host
        d.mkdir(parents=True, exist_ok=True)
        (d / "hosts.toml").write_text(
            f'server = "http://{endpoint}"\n[host."http://{endpoint}"]\n  capabilities = ["pull", "resolve"]\n'
        )
    containerd = paths.etc / "containerd.toml"
    containerd.write_text(f"""version = 3
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.snapshotter.v1.erofs"]
[grpc]
  address = "{paths.containerd_sock}"
[plugins."io.containerd.internal.v1.opt"]
  path = "/var/lib/containerd-opt"
[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      base_runtime_spec = "{spec}"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "{RUNC}"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["{tools_dir / "cni-bin"}"]
    conf_dir = "{paths.etc / "cni"}"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "{PAUSE_IMAGE}"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "{paths.etc / "certs.d"}"
""")
    cni = {
        "cniVersion": "1.0.0",
        "name": "mlrig",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": slot.pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    (paths.etc / "cni" / "10-mlrig.conflist").write_text(json.dumps(cni, indent=1))
    (paths.etc / "resolv.conf").write_text("")  # pods get cluster DNS; the node has no upstream to offer
    kubelet = paths.etc / "kubelet.yaml"
    kubelet.write_text(
        json.dumps(
            {
                "apiVersion": "kubelet.config.k8s.io/v1beta1",
                "kind": "KubeletConfiguration",
                "cgroupDriver": "cgroupfs",
                "cgroupRoot": cgroup_root(slot),
                "failCgroupV1": False,  # these hosts are cgroup v1 (hybrid)
                "failSwapOn": False,
                "localStorageCapacityIsolation": False,
                "enforceNodeAllocatable": [],
                "containerRuntimeEndpoint": f"unix://{paths.containerd_sock}",
                "readOnlyPort": 0,
                "healthzBindAddress": "127.0.0.1",
                "clusterDNS": [slot.dns_ip],
                "clusterDomain": CLUSTER_DOMAIN,
                "resolvConf": str(paths.etc / "resolv.conf"),
                "podLogsDir": str(paths.pod_logs),
                "authentication": {
                    "anonymous": {"enabled": False},
                    "webhook": {"enabled": True},
                    "x509": {"clientCAFile": str(ca_file)},
                },
                "authorization": {"mode": "Webhook"},
                "serializeImagePulls": False,
                "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
                "imageGCHighThresholdPercent": 100,
                "imageGCLowThresholdPercent": 99,
                "nodeStatusUpdateFrequency": "4s",
                "syncFrequency": "10s",
            },
            indent=1,
        )
    )
    proxy = paths.etc / "kube-proxy.yaml"
    proxy.write_text(
        json.dumps(
            {
                "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                "kind": "KubeProxyConfiguration",
                "clientConnection": {"kubeconfig": str(kubeconfig)},
                "mode": "iptables",
                "clusterCIDR": slot.pod_cidr,
                "hostnameOverride": node_name,
                "bindAddress": slot.node_ip,
                "healthzBindAddress": "127.0.0.1:10256",
                "metricsBindAddress": "127.0.0.1:10249",
                # 0: leave the host-wide conntrack sysctls alone (they are not ours to change)
                "conntrack": {
                    "maxPerCore": 0,
                    "min": 0,
                    "tcpEstablishedTimeout": "0s",
                    "tcpCloseWaitTimeout": "0s",
                },
            },
            indent=1,
        )
    )
    return {"containerd": containerd, "kubelet": kubelet, "kube-proxy": proxy}


def _base_runtime_spec(tools_dir: Path) -> dict:
    """containerd's default OCI spec without rlimits: these hosts refuse to raise RLIMIT_NOFILE for a container."""
    out = subprocess.run([str(tools_dir / "bin" / "ctr"), "oci", "spec"], capture_output=True, text=True, check=True)
    spec = json.loads(out.stdout)
    spec["process"].pop("rlimits", None)
    return spec


def daemon_argvs(slot: Slot, paths: NodePaths, configs: dict[str, Path], *, tools_dir: Path, node_name: str,
                 kubeconfig: Path) -> dict[str, list[str]]:  # fmt: skip
    bin_dir = tools_dir / "bin"
    return {
        "containerd": [str(bin_dir / "containerd"), "--config", str(configs["containerd"])],
        "kubelet": [
            str(bin_dir / "kubelet"),
            f"--config={configs['kubelet']}",
            f"--kubeconfig={kubeconfig}",
            f"--node-ip={slot.node_ip}",
            f"--hostname-override={node_name}",
            "--v=1",
        ],
        "kube-proxy": [str(bin_dir / "kube-proxy"), f"--config={configs['kube-proxy']}", "--v=1"],
    }
