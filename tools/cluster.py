"""A local Kubernetes cluster on this machine: the control plane (etcd, kube-apiserver, -controller-manager,
-scheduler) plus either a **real node** (containerd, kubelet, kube-proxy, CNI bridge, CoreDNS, metrics-server,
and a plain-HTTP image registry) or kwok's simulated node (scale tests: nothing runs).

Library use (tests, make targets)::

    from tools import cluster
    with cluster.local_cluster(cluster.default_tools_dir() / "bin", workdir, mirrors=("ghcr.io",)) as c:
        c.kubeconfig                        # admin kubeconfig (JSON)
        c.registry                          # host:port of the registry the node pulls from
        ref = c.push("churn-scorer:abc", as_repository="ghcr.io/mlrig")   # -> ghcr.io/mlrig/churn-scorer@sha256:…
        c.service_url("mlrig-dev", "churn-scorer")    # http://<ClusterIP>:80, reachable from this host

Command line: `python -m tools.cluster up [--node kwok]` prints the kubeconfig path and serves until Ctrl-C.

The real node lives in its own network namespace (tools/nodehost.py: one slot per cluster, so clusters started
at the same time never share an address, a bridge, an iptables chain, a cgroup or a mount); the API server
listens on the host end of the node's veth, which only this host and that node reach. On exit every process,
container, mount, namespace, route and cgroup is gone (`leftover` and `nodehost.leftovers` say what is not).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as `python tools/cluster.py`: make `tools.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools import addons, nodehost, pki
from tools.node import NodePaths, daemon_argvs, holder_argv, in_node, write_configs
from tools.procs import Api, ClusterError, Procs, free_ports, http_ok, wait

__all__ = ["ClusterError", "ClusterInfo", "default_tools_dir", "leftover", "local_cluster"]

HERE = Path(__file__).resolve().parent
KWOK_NODE = "kwok-node-0"
REAL_NODE = "mlrig-node"
KWOK_STAGES = (
    "node-initialize.yaml",
    "node-heartbeat-with-lease.yaml",
    "pod-ready.yaml",
    "pod-complete.yaml",
    "pod-delete.yaml",
)
KWOK_SERVICE_CIDR = "10.96.0.0/16"  # under kwok nothing routes: any range will do
NODE_BINARIES = (
    "kubelet",
    "kube-proxy",
    "containerd",
    "containerd-shim-runc-v2",
    "ctr",
    "coredns",
    "metrics-server",
    "pause",
)


@dataclass(frozen=True)
class ClusterInfo:
    kubeconfig: Path
    api_url: str
    token: str
    ca_file: Path
    workdir: Path
    node_name: str = KWOK_NODE
    registry: str | None = None  # host:port, plain HTTP; None under kwok
    slot: nodehost.Slot | None = None  # the real node's namespace, addresses and cgroup; None under kwok
    holder_pid: int | None = None
    mirrors: tuple[str, ...] = field(default_factory=tuple)
    # The CNI bridge plugin ignores NetworkPolicy; kube-router, which would enforce it, failed on these machines
    # (README.md, "NetworkPolicy"). Tests check policies against this, so an enforcing node must say so here.
    enforces_network_policy: bool = False
    tools_bin: Path | None = None

    @property
    def real_node(self) -> bool:
        return self.slot is not None

    def api(self) -> Api:
        return Api(self.api_url, self.ca_file, self.token)

    def service_address(self, namespace: str, name: str, port: str | int | None = None) -> tuple[str, int]:
        """(ClusterIP, port) of a Service: this host routes the service range into the node, where kube-proxy
        forwards it, so a client here talks to it as a pod would. `port`: the port's name or number (default:
        the first)."""
        if not self.real_node:
            raise ClusterError("under kwok no Service is reachable: nothing runs behind it")
        spec = self.api().get(f"/api/v1/namespaces/{namespace}/services/{name}")["spec"]
        ports = spec["ports"]
        chosen = next((p for p in ports if port in (None, p.get("name"), p["port"])), None)
        if chosen is None:
            raise ClusterError(f"service {namespace}/{name} has no port {port!r}: {ports}")
        return spec["clusterIP"], chosen["port"]

    def service_url(self, namespace: str, name: str, port: str | int | None = None) -> str:
        host, number = self.service_address(namespace, name, port)
        return f"http://{host}:{number}"

    def push(self, image: str, *, as_repository: str | None = None, tag: str | None = None) -> str:
        """Push a local engine image (`mlrig image build …`) to the cluster's registry; return the reference
        pods should use, by digest. `as_repository` (e.g. "ghcr.io/mlrig", one of `mirrors`) keeps the
        deployed name: the node pulls that registry's images from ours."""
        if self.registry is None:
            raise ClusterError("this cluster has no registry (kwok node): images are never pulled")
        from infra.images.engine import connect
        from infra.images.registry import push

        host, _, path = (as_repository or "").partition("/")
        if as_repository and host not in self.mirrors:
            raise ClusterError(f"{host} is not mirrored by this cluster (mirrors: {self.mirrors}); start it with it")
        target = f"{self.registry}/{path}".rstrip("/")
        ref = push(connect(), image, target, tag or "mlrig-local", insecure=True)
        return ref.replace(target, as_repository, 1) if as_repository else ref

    def node_dir(self, path: str, *, owner: int | None = None) -> Path:
        """Create the node's folder `path` (under /var/lib, the node's own) for a hostPath volume; `owner`: the uid
        the pod runs as (a hostPath is not chowned by fsGroup). Returns where it lies on this host."""
        inside = Path(path)
        if not self.real_node or not inside.is_relative_to("/var/lib"):
            raise ClusterError(f"{path}: only /var/lib/… on a real node maps to a folder of this cluster")
        host = NodePaths(self.workdir / "node").var_lib / inside.relative_to("/var/lib")
        host.mkdir(parents=True, exist_ok=True)
        if owner is not None:
            os.chown(host, owner, owner)
        return host

    def pod_log_files(self, namespace: str, pod: str, uid: str) -> dict[str, str]:
        """Each container's log as the node wrote it (CRI format stripped), straight from the node's disk: what a
        pod said even when the kubelet's log endpoint answers nothing. {"<container>/<restart>": text}."""
        if not self.real_node:
            return {}
        folder = NodePaths(self.workdir / "node").pod_logs / f"{namespace}_{pod}_{uid}"
        found = {}
        for file in sorted(folder.glob("*/*.log")):
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
            # "<time> <stream> <P|F> <text>": P is a partial line continued by the next
            parts = [line.split(" ", 3) for line in lines]
            text = "".join(p[3] + ("" if p[2] == "P" else "\n") for p in parts if len(p) == 4)
            found[f"{file.parent.name}/{file.stem}"] = text
        return found

    def node_leftovers(self, namespace: str, pod_uids: Sequence[str]) -> list[str]:
        """What pods of `namespace` left on the node: containers (by containerd's CRI label), mounts under their
        pod folders, and sandbox network namespaces beyond the sandboxes still there. Empty when all is gone."""
        if self.holder_pid is None or self.tools_bin is None:
            raise ClusterError("no real node")
        ctr = [str(self.tools_bin / "ctr"), "--address", NodePaths(self.workdir / "node").containerd_sock,
               "--namespace", "k8s.io", "containers", "ls", "-q"]  # fmt: skip
        mine = self.node_run(*ctr, f'labels."io.kubernetes.pod.namespace"=="{namespace}"').stdout.split()
        sandboxes = self.node_run(*ctr, 'labels."io.cri-containerd.kind"=="sandbox"').stdout.split()
        mounts = self.node_run("cat", "/proc/self/mountinfo").stdout.splitlines()
        found = [f"container {c}" for c in mine]
        found += [f"mount {line.split()[4]}" for line in mounts if any(f"/pods/{uid}/" in line for uid in pod_uids)]
        netns = [line.split()[4] for line in mounts if " - nsfs " in line and "/containerd/" in line]
        if len(netns) > len(sandboxes):
            found.append(f"{len(netns)} sandbox network namespaces for {len(sandboxes)} sandboxes: {netns}")
        return found

    def node_run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run a command inside the node's namespaces (`ctr`, `iptables-save`, `ip`)."""
        if self.holder_pid is None:
            raise ClusterError("no real node")
        return subprocess.run(in_node(self.holder_pid, list(argv)), capture_output=True, text=True, check=False)


def leftover(tools_bin: Path, *clusters: ClusterInfo) -> list[str]:
    """Processes of `clusters` still running a binary from `tools_bin` (after they stopped, there must be none).

    A process is a cluster's when its command line names the cluster's work folder (the control plane, containerd,
    the kubelet) or it sits in the cluster's cgroup (the shims and pods its node started). Other clusters on the
    host (a parallel CI job, an engineer's `make cluster`) are not ours to blame; with no cluster given, every
    process of `tools_bin` counts."""
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    running = [line for line in ps.splitlines() if str(tools_bin) in line]
    if not clusters:
        return running
    folders = [str(c.workdir) for c in clusters]
    cgroups = [c.slot.cgroup_name for c in clusters if c.slot is not None]
    return [line for line in running if any(f in line for f in folders) or _in_cgroup(line, cgroups)]


def _in_cgroup(ps_line: str, cgroups: list[str]) -> bool:
    try:
        text = Path(f"/proc/{ps_line.split()[0]}/cgroup").read_text()
    except OSError:  # it has exited since `ps` ran
        return False
    paths = [line.split(":", 2)[-1] for line in text.splitlines()]
    return any(f"/{name}/" in f"{path}/" for path in paths for name in cgroups)


def default_tools_dir() -> Path:
    """The cache dir build-tools.sh uses for the current pins."""
    out = subprocess.run(
        ["bash", str(HERE / "build-tools.sh"), "--print-dir"], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip())


def pinned_versions() -> dict[str, str]:
    pins = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            pins[key.strip()] = value.strip()
    return pins


# ---------------------------------------------------------------------------------------------- control plane


def _start_control_plane(procs: Procs, tools_bin: Path, workdir: Path, *, api_host: str, service_cidr: str,
                         timeout: float) -> tuple[str, Path, Api]:  # fmt: skip
    pki_dir, data = workdir / "pki", workdir / "data"
    etcd_port, etcd_peer, kcm_port, sched_port = free_ports(4)
    (api_port,) = free_ports(1, api_host)
    api_url = f"https://{api_host}:{api_port}"
    kubeconfig = workdir / "kubeconfig"
    service_ip = str(ipaddress.ip_network(service_cidr)[1])
    token = pki.make_pki(pki_dir, sorted({"127.0.0.1", api_host, service_ip}))
    pki.write_kubeconfig(kubeconfig, api_url, pki_dir / "ca.crt", token)
    api = Api(api_url, pki_dir / "ca.crt", token)
    # kcm/scheduler serve throwaway self-signed certs on 127.0.0.1; only their /healthz is read through this
    insecure = ssl._create_unverified_context()  # noqa: S323

    procs.start(
        "etcd",
        [
            str(tools_bin / "etcd"),
            "--name=n0",
            f"--data-dir={data / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
            f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-cluster=n0=http://127.0.0.1:{etcd_peer}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ],
    )
    wait("etcd /health", lambda: http_ok(f"http://127.0.0.1:{etcd_port}/health"), procs, timeout)
    procs.start(
        "kube-apiserver",
        [
            str(tools_bin / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            f"--bind-address={api_host}",
            f"--advertise-address={api_host}",
            f"--secure-port={api_port}",
            f"--cert-dir={pki_dir}",
            *pki.apiserver_flags(pki_dir),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={service_cidr}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--enable-aggregator-routing=true",  # the API server reaches metrics-server's pod directly
            "--kubelet-preferred-address-types=InternalIP",  # `kubectl logs`: no DNS on the host for node names
            "--profiling=false",
        ],
    )
    wait("kube-apiserver /readyz", lambda: api.request("GET", "/readyz")[0] == 200, procs, timeout)
    common = [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
        "--profiling=false",
    ]
    procs.start(
        "kube-controller-manager",
        [
            str(tools_bin / "kube-controller-manager"),
            *common,
            f"--secure-port={kcm_port}",
            f"--service-account-private-key-file={pki_dir / 'sa.key'}",
            f"--root-ca-file={pki_dir / 'ca.crt'}",
            f"--service-cluster-ip-range={service_cidr}",
        ],
    )
    procs.start("kube-scheduler", [str(tools_bin / "kube-scheduler"), *common, f"--secure-port={sched_port}"])
    for name, port in (("kube-controller-manager", kcm_port), ("kube-scheduler", sched_port)):
        wait(f"{name} /healthz", lambda p=port: http_ok(f"https://127.0.0.1:{p}/healthz", insecure), procs, timeout)
    return api_url, kubeconfig, api


def _start_kwok(procs: Procs, tools_bin: Path, kubeconfig: Path, api: Api, timeout: float) -> None:
    stages = [tools_bin.parent / "kwok-stages" / s for s in KWOK_STAGES]
    missing = [s for s in stages if not s.is_file()]
    if missing:
        raise ClusterError(f"{missing[0]} missing: run tools/build-tools.sh")
    procs.start(
        "kwok",
        [
            str(tools_bin / "kwok"),
            f"--kubeconfig={kubeconfig}",
            "--manage-all-nodes=true",
            "--node-ip=127.0.0.1",
            "--cidr=10.244.0.0/24",
            "--node-lease-duration-seconds=40",
            *[f"--config={s}" for s in stages],
        ],
    )
    status, body = api.request("POST", "/api/v1/nodes", _kwok_node(KWOK_NODE))
    if status not in (200, 201):
        raise ClusterError(f"creating node {KWOK_NODE}: HTTP {status}: {body}")


def _kwok_node(name: str) -> dict:
    labels = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        "kubernetes.io/hostname": name,
        "kubernetes.io/role": "agent",
        "node-role.kubernetes.io/agent": "",
        "type": "kwok",
    }
    res = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        # No kwok.x-k8s.io/node=fake NoSchedule taint: workloads schedule without tolerations.
        "metadata": {"name": name, "labels": labels, "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "status": {
            "capacity": res,
            "allocatable": res,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
            },
            "phase": "Running",
        },
    }


def _node_ready(api: Api, name: str) -> bool:
    status, node = api.request("GET", f"/api/v1/nodes/{name}")
    if status != 200 or not isinstance(node, dict):
        return False
    conds = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
    taints = [t["key"] for t in node.get("spec", {}).get("taints", []) or []]
    return conds.get("Ready") == "True" and not any(t.startswith("node.kubernetes.io/") for t in taints)


# ------------------------------------------------------------------------------------------------- real node


def _start_registry(procs: Procs, slot: nodehost.Slot, workdir: Path, timeout: float) -> str:
    (port,) = free_ports(1, slot.host_ip)
    endpoint = f"{slot.host_ip}:{port}"
    config = workdir / "registry.yml"
    config.write_text(
        json.dumps(
            {
                "version": 0.1,
                "log": {"level": "warn"},
                "storage": {"filesystem": {"rootdirectory": str(workdir / "registry")}},
                "http": {"addr": endpoint},
            }
        )
    )
    procs.start("registry", ["docker-registry", "serve", str(config)])
    wait("registry /v2/", lambda: http_ok(f"http://{endpoint}/v2/"), procs, timeout)
    return endpoint


def _start_node(procs: Procs, lock: nodehost.SlotLock, tools_dir: Path, workdir: Path, *, kubeconfig: Path, api: Api,
                registry: str, mirrors: Sequence[str], timeout: float) -> int:  # fmt: skip
    """Namespaces, containerd (with our system images), kubelet, kube-proxy; returns the holder's pid."""
    slot = lock.slot
    paths = NodePaths(workdir / "node")
    registries = {registry: registry, **dict.fromkeys(mirrors, registry)}
    configs = write_configs(
        slot, paths, tools_dir=tools_dir, api_url=api.url, node_name=REAL_NODE,
        kubeconfig=kubeconfig, ca_file=workdir / "pki" / "ca.crt", registries=registries,
    )  # fmt: skip
    root = lock.make_cgroups()
    join = lambda: nodehost.join_cgroup(root)  # noqa: E731
    env = {**os.environ, "PATH": f"{tools_dir / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin"}
    holder = procs.start("node-namespaces", holder_argv(slot, paths), before_exec=join)
    wait("the node's namespaces", lambda: Path(f"/proc/{holder.pid}/comm").read_text().strip() == "sleep",
         procs, timeout, interval=0.05)  # fmt: skip
    argvs = daemon_argvs(slot, paths, configs, tools_dir=tools_dir, node_name=REAL_NODE, kubeconfig=kubeconfig)
    procs.start("containerd", in_node(holder.pid, argvs["containerd"]), env=env, before_exec=join)
    ctr = [str(tools_dir / "bin" / "ctr"), "--address", paths.containerd_sock, "--namespace", "k8s.io"]
    run = lambda *a: subprocess.run(in_node(holder.pid, [*ctr, *a]), capture_output=True, text=True)  # noqa: E731
    wait("containerd", lambda: run("version").returncode == 0, procs, timeout, interval=0.2)
    for name, archive in addons.system_images(tools_dir, pinned_versions()).items():
        done = run("images", "import", str(archive))
        if done.returncode != 0:
            raise ClusterError(f"importing {name} into the node's containerd failed: {done.stderr.strip()}")
    procs.start("kubelet", in_node(holder.pid, argvs["kubelet"]), env=env, before_exec=join)
    procs.start("kube-proxy", in_node(holder.pid, argvs["kube-proxy"]), env=env, before_exec=join)
    wait(f"node {REAL_NODE} Ready", lambda: _node_ready(api, REAL_NODE), procs, timeout)
    return holder.pid


def _start_addons(procs: Procs, api: Api, slot: nodehost.Slot, timeout: float) -> None:
    pins = pinned_versions()
    objects = addons.coredns_objects(
        addons.COREDNS_IMAGE.format(version=pins["COREDNS_VERSION"]), slot.dns_ip
    ) + addons.metrics_server_objects(addons.METRICS_SERVER_IMAGE.format(version=pins["METRICS_SERVER_VERSION"]))
    for obj in objects:
        status, body = api.request("POST", addons.create_path(obj), obj)
        if status not in (200, 201):
            raise ClusterError(f"creating {obj['kind']} {obj['metadata']['name']}: HTTP {status}: {body}")

    def available(name: str) -> bool:
        d = api.get(f"/apis/apps/v1/namespaces/kube-system/deployments/{name}")
        return d.get("status", {}).get("availableReplicas", 0) >= 1

    for name in ("coredns", "metrics-server"):
        wait(f"kube-system/{name} available", lambda n=name: available(n), procs, timeout)


# --------------------------------------------------------------------------------------------------- cluster


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold off Ctrl-C and SIGTERM while the cluster is taken down: a second signal (a `timeout` wrapper passing
    on its own SIGTERM, an impatient Ctrl-C) would otherwise abort the cleanup half-way and leave processes."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def local_cluster(tools_bin: Path, workdir: Path, *, node: str = "real", mirrors: Sequence[str] = (),
                  timeout: float = 240.0) -> Iterator[ClusterInfo]:  # fmt: skip
    """Start the control plane and a node (`node="real"` or `"kwok"`); yield once the node is Ready and the
    `default` ServiceAccount exists (real node: also cluster DNS and metrics-server); stop everything on exit.

    ``tools_bin``: build-tools.sh's bin dir. ``workdir``: PKI, etcd data, node state, registry storage,
    kubeconfig and one log per component under logs/; wiped first. ``mirrors``: registry hosts (e.g.
    "ghcr.io") whose pulls the real node serves from the local registry.
    """
    if node not in ("real", "kwok"):
        raise ValueError(f"node must be 'real' or 'kwok', not {node!r}")
    tools_bin, workdir = Path(tools_bin).resolve(), Path(workdir).resolve()
    needed = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
    needed += NODE_BINARIES if node == "real" else ("kwok",)
    for b in needed:
        if not (tools_bin / b).is_file():
            raise ClusterError(f"{tools_bin / b} missing: run tools/build-tools.sh (make tools)")
    for tool in ("openssl", *(("docker-registry", "runc", "iptables", "nsenter", "unshare") if node == "real" else ())):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise ClusterError(f"`{tool}` is not installed: `make node-setup` installs the node's Debian packages")
    if workdir.exists():
        shutil.rmtree(workdir)
    logs = workdir / "logs"
    logs.mkdir(parents=True)

    procs = Procs(logs)
    lock = nodehost.SlotLock(workdir) if node == "real" else None
    try:
        slot = lock.slot if lock else None
        if slot:
            nodehost.setup_network(slot)
        api_url, kubeconfig, api = _start_control_plane(
            procs, tools_bin, workdir, api_host=slot.host_ip if slot else "127.0.0.1",
            service_cidr=slot.service_cidr if slot else KWOK_SERVICE_CIDR, timeout=timeout,
        )  # fmt: skip
        registry, holder = None, None
        if slot:
            registry = _start_registry(procs, slot, workdir, timeout)
            holder = _start_node(procs, lock, tools_bin.parent, workdir, kubeconfig=kubeconfig, api=api,
                                 registry=registry, mirrors=mirrors, timeout=timeout)  # fmt: skip
            _start_addons(procs, api, slot, timeout)
        else:
            _start_kwok(procs, tools_bin, kubeconfig, api, timeout)
            wait(f"node {KWOK_NODE} Ready and untainted", lambda: _node_ready(api, KWOK_NODE), procs, timeout)
        wait(
            "ServiceAccount default/default",
            lambda: api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
            procs,
            timeout,
        )
        yield ClusterInfo(
            kubeconfig=kubeconfig,
            api_url=api_url,
            token=api.token,
            ca_file=workdir / "pki" / "ca.crt",
            workdir=workdir,
            node_name=REAL_NODE if slot else KWOK_NODE,
            registry=registry,
            slot=slot,
            holder_pid=holder,
            mirrors=tuple(mirrors),
            tools_bin=tools_bin,
        )
    finally:
        with _uninterrupted():
            if lock:  # containers, shims and daemons first: they hold mounts in the node's mount namespace
                peak = nodehost.peak_memory_bytes(nodehost.cgroup_root(lock.slot))
                (logs / "node-peak-memory.txt").write_text(f"{peak}\n")
                nodehost.kill_cgroup(nodehost.cgroup_root(lock.slot))
            procs.stop()
            if lock:
                lock.release()


# ------------------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.cluster", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the cluster and serve until Ctrl-C")
    up.add_argument("--tools-dir", type=Path, help="build-tools.sh output dir (default: its --print-dir)")
    up.add_argument("--workdir", type=Path, default=Path(".cache/cluster"), help="state + logs (wiped on start)")
    up.add_argument("--node", choices=("real", "kwok"), default="real")
    up.add_argument("--mirror", action="append", default=[], help="registry host the node pulls from ours")
    up.add_argument("--timeout", type=float, default=240.0)
    args = ap.parse_args(argv)

    tools_dir = args.tools_dir or default_tools_dir()

    def on_term(signum, frame):  # make SIGTERM unwind like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    t0 = time.monotonic()
    try:
        with local_cluster(
            tools_dir / "bin", args.workdir, node=args.node, mirrors=args.mirror, timeout=args.timeout
        ) as info:
            print(f"cluster ready in {time.monotonic() - t0:.1f}s: {info.api_url}", file=sys.stderr)
            print(f"logs: {info.workdir / 'logs'}", file=sys.stderr)
            if info.registry:
                print(f"registry: {info.registry} (plain HTTP; the node pulls from it)", file=sys.stderr)
                print(f"services: {info.slot.service_cidr} is routed into the node from this host", file=sys.stderr)
            print(f"export KUBECONFIG={info.kubeconfig}", file=sys.stderr)
            print(info.kubeconfig, flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    except ClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
