"""A local Kubernetes control plane on 127.0.0.1 with kwok-simulated nodes.

Uses the binaries built by tools/build-tools.sh (etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, kwok) and the kwok stage files it
copies next to them. Only the standard library plus the ``openssl`` CLI.

Library use::

    with local_cluster(tools_bin, workdir) as info:
        subprocess.run(["kubectl", "--kubeconfig", info.kubeconfig, "get", "nodes"])

Command line::

    python tools/cluster.py up [--tools-dir DIR] [--workdir DIR]

prints the kubeconfig path and serves until Ctrl-C / SIGTERM; every process it
started is stopped on exit. Pods never really run: kwok moves them to Running
(and Job pods to Succeeded); there is no exec, logs or port-forward.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClusterError", "ClusterInfo", "default_tools_dir", "local_cluster"]

NODE_NAME = "kwok-node-0"
KWOK_STAGES = (
    "node-initialize.yaml",
    "node-heartbeat-with-lease.yaml",
    "pod-ready.yaml",
    "pod-complete.yaml",
    "pod-delete.yaml",
)
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"


class ClusterError(RuntimeError):
    """The control plane did not come up; the message names the log to read."""


@dataclass(frozen=True)
class ClusterInfo:
    kubeconfig: Path
    api_url: str
    token: str
    ca_file: Path
    workdir: Path
    node_name: str = NODE_NAME


def leftover(tools_bin: Path) -> list[str]:
    """Processes still running a binary from `tools_bin` (after a cluster stopped, there must be none)."""
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [line for line in ps.splitlines() if str(tools_bin) in line]


def default_tools_dir() -> Path:
    """The cache dir build-tools.sh uses for the current pins."""
    here = Path(__file__).resolve().parent
    out = subprocess.run(
        ["bash", str(here / "build-tools.sh"), "--print-dir"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


# --------------------------------------------------------------------------- PKI


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_pki(pki: Path) -> str:
    """CA, an admin cert (server+client, O=system:masters), an SA key, a token."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=mlrig-local-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        cwd=pki,
    )  # fmt: skip
    sans = ",".join(
        [
            "DNS:localhost",
            "IP:127.0.0.1",
            f"IP:{SERVICE_IP}",
            "DNS:kubernetes",
            "DNS:kubernetes.default",
            "DNS:kubernetes.default.svc",
            "DNS:kubernetes.default.svc.cluster.local",
        ]
    )
    (pki / "admin.ext").write_text(
        f"subjectAltName={sans}\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "basicConstraints=critical,CA:FALSE\n"
    )
    _openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "admin.key",
        "-out", "admin.csr", "-subj", "/O=system:masters/CN=admin",
        cwd=pki,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "admin.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-sha256", "-days", "3650", "-extfile", "admin.ext",
        "-out", "admin.crt",
        cwd=pki,
    )  # fmt: skip
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    token = secrets.token_hex(24)
    (pki / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n')
    for f in pki.iterdir():
        if f.suffix in (".key", ".csv"):
            f.chmod(0o600)
    return token


def _write_kubeconfig(path: Path, api_url: str, ca_file: Path, token: str) -> None:
    # JSON is valid YAML; kubectl, client-go and the Pulumi provider read it.
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "mlrig-local", "cluster": {"server": api_url, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "mlrig-local", "context": {"cluster": "mlrig-local", "user": "admin"}}],
        "current-context": "mlrig-local",
    }
    path.write_text(json.dumps(cfg, indent=2) + "\n")
    path.chmod(0o600)


# ---------------------------------------------------------------------- processes


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Procs:
    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logdir / f"{name}.log").open("ab")  # the child owns it until it exits
        p = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            close_fds=True,
        )
        log.close()
        self.procs.append((name, p))
        return p

    def check(self) -> None:
        for name, p in self.procs:
            if p.poll() is not None:
                raise ClusterError(f"{name} exited with {p.returncode}; see {self.logdir / (name + '.log')}")

    def stop(self, grace: float = 10.0) -> None:
        for _, p in reversed(self.procs):
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _, p in reversed(self.procs):
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)  # the group, in case a child forked
            p.wait()
        self.procs.clear()


# -------------------------------------------------------------------------- HTTP


class _Api:
    def __init__(self, url: str, ca_file: Path, token: str) -> None:
        self.url = url
        self.ctx = ssl.create_default_context(cafile=str(ca_file))
        self.token = token

    def request(self, method: str, path: str, body: object | None = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310  # our https://127.0.0.1 API server
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:  # noqa: S310  # same loopback URL
                raw = r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")


def _wait(what: str, cond, procs: _Procs, timeout: float, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        procs.check()
        try:
            if cond():
                return
        except (OSError, urllib.error.URLError) as e:  # not listening yet
            last = e
        if time.monotonic() > deadline:
            raise ClusterError(
                f"timed out after {timeout:.0f}s waiting for {what} (last error: {last}); logs in {procs.logdir}"
            )
        time.sleep(interval)


def _http_ok(url: str, ctx: ssl.SSLContext | None = None) -> bool:
    with urllib.request.urlopen(url, context=ctx, timeout=5) as r:  # noqa: S310  # loopback health URLs we built
        return r.status == 200


def _node_manifest(name: str) -> dict:
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


# ------------------------------------------------------------------------ cluster


@contextlib.contextmanager
def local_cluster(tools_bin: Path, workdir: Path, *, timeout: float = 180.0) -> Iterator[ClusterInfo]:
    """Start etcd, kube-apiserver, -controller-manager, -scheduler and kwok.

    ``tools_bin`` is build-tools.sh's bin dir; the kwok stage files are taken
    from ``tools_bin/../kwok-stages``. ``workdir`` holds PKI, etcd data,
    kubeconfig and one log per component; it is wiped first. Yields once the
    API is ready, a kwok Node is Ready and the ``default`` ServiceAccount
    exists; every process is stopped on exit.
    """
    tools_bin = Path(tools_bin).resolve()
    workdir = Path(workdir).resolve()
    for b in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"):
        if not (tools_bin / b).is_file():
            raise ClusterError(f"{tools_bin / b} missing: run tools/build-tools.sh")
    stages = [tools_bin.parent / "kwok-stages" / s for s in KWOK_STAGES]
    for s in stages:
        if not s.is_file():
            raise ClusterError(f"{s} missing: run tools/build-tools.sh")
    if shutil.which("openssl") is None:
        raise ClusterError("the openssl CLI is needed to make the cluster's PKI")

    if workdir.exists():
        shutil.rmtree(workdir)
    pki, logs, data = workdir / "pki", workdir / "logs", workdir / "data"
    for d in (pki, logs, data):
        d.mkdir(parents=True)
    token = _make_pki(pki)

    etcd_port, etcd_peer, api_port, kcm_port, sched_port = _free_ports(5)
    api_url = f"https://127.0.0.1:{api_port}"
    kubeconfig = workdir / "kubeconfig"
    _write_kubeconfig(kubeconfig, api_url, pki / "ca.crt", token)
    api = _Api(api_url, pki / "ca.crt", token)
    # kcm/scheduler serve throwaway self-signed certs on 127.0.0.1; only their /healthz is read through this
    insecure = ssl._create_unverified_context()  # noqa: S323

    procs = _Procs(logs)
    try:
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
        _wait("etcd /health", lambda: _http_ok(f"http://127.0.0.1:{etcd_port}/health"), procs, timeout)

        procs.start(
            "kube-apiserver",
            [
                str(tools_bin / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={api_port}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={pki / 'admin.crt'}",
                f"--tls-private-key-file={pki / 'admin.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki / 'sa.key'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                "--allow-privileged=true",
                "--profiling=false",
            ],
        )
        _wait("kube-apiserver /readyz", lambda: api.request("GET", "/readyz")[0] == 200, procs, timeout)

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
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
            ],
        )
        procs.start(
            "kube-scheduler",
            [str(tools_bin / "kube-scheduler"), *common, f"--secure-port={sched_port}"],
        )
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
        for name, port in (("kube-controller-manager", kcm_port), ("kube-scheduler", sched_port)):
            _wait(
                f"{name} /healthz",
                lambda p=port: _http_ok(f"https://127.0.0.1:{p}/healthz", insecure),
                procs,
                timeout,
            )

        status, body = api.request("POST", "/api/v1/nodes", _node_manifest(NODE_NAME))
        if status not in (200, 201):
            raise ClusterError(f"creating node {NODE_NAME}: HTTP {status}: {body}")

        def node_ready() -> bool:
            st, node = api.request("GET", f"/api/v1/nodes/{NODE_NAME}")
            if st != 200 or not isinstance(node, dict):
                return False
            conds = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
            taints = [t["key"] for t in node.get("spec", {}).get("taints", []) or []]
            return conds.get("Ready") == "True" and not any(t.startswith("node.kubernetes.io/") for t in taints)

        _wait(f"node {NODE_NAME} Ready and untainted", node_ready, procs, timeout)
        _wait(
            "ServiceAccount default/default",
            lambda: api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
            procs,
            timeout,
        )
        yield ClusterInfo(kubeconfig=kubeconfig, api_url=api_url, token=token, ca_file=pki / "ca.crt", workdir=workdir)
    finally:
        procs.stop()


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cluster.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the cluster and serve until Ctrl-C")
    up.add_argument("--tools-dir", type=Path, help="build-tools.sh output dir (default: its --print-dir)")
    up.add_argument("--workdir", type=Path, default=Path(".cache/cluster"), help="state + logs (wiped on start)")
    up.add_argument("--timeout", type=float, default=180.0)
    args = ap.parse_args(argv)

    tools_dir = args.tools_dir or default_tools_dir()

    def on_term(signum, frame):  # make SIGTERM unwind like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    t0 = time.monotonic()
    try:
        with local_cluster(tools_dir / "bin", args.workdir, timeout=args.timeout) as info:
            print(f"cluster ready in {time.monotonic() - t0:.1f}s: {info.api_url}", file=sys.stderr)
            print(f"logs: {info.workdir / 'logs'}", file=sys.stderr)
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
