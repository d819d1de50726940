"""Child processes that cannot outlive the cluster, and the little HTTP the cluster code needs (stdlib only).

Every child gets its own session and PR_SET_PDEATHSIG=SIGTERM; `stop` sends SIGTERM to each process group,
then SIGKILL after a grace period. A child may first be moved into a cgroup (the node's daemons are), so that
what it forks later (containerd's shims, the containers) can be found and killed too.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path


class ClusterError(RuntimeError):
    """The cluster did not come up; the message names the log to read."""


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _child_setup(before_exec: Callable[[], None] | None) -> Callable[[], None]:
    def setup() -> None:  # runs in the child between fork and exec
        os.setsid()
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if before_exec is not None:
            before_exec()

    return setup


class Procs:
    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        before_exec: Callable[[], None] | None = None,
    ) -> subprocess.Popen[bytes]:
        log = (self.logdir / f"{name}.log").open("ab")  # the child owns it until it exits
        p = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(before_exec),
            close_fds=True,
            env=dict(env) if env is not None else None,
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


class Api:
    """Bearer-token JSON requests to the cluster's API server."""

    def __init__(self, url: str, ca_file: Path, token: str) -> None:
        self.url = url
        self.ctx = ssl.create_default_context(cafile=str(ca_file))
        self.token = token

    def request(self, method: str, path: str, body: object | None = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310  # our own API server
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:  # noqa: S310  # same URL
                raw = r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str) -> dict:
        status, body = self.request("GET", path)
        if status != 200 or not isinstance(body, dict):
            raise ClusterError(f"GET {path}: HTTP {status}: {body}")
        return body


def wait(what: str, cond: Callable[[], bool], procs: Procs, timeout: float, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        procs.check()
        try:
            if cond():
                return
        except (OSError, urllib.error.URLError, ClusterError) as e:  # not listening yet
            last = e
        if time.monotonic() > deadline:
            raise ClusterError(
                f"timed out after {timeout:.0f}s waiting for {what} (last error: {last}); logs in {procs.logdir}"
            )
        time.sleep(interval)


def http_ok(url: str, ctx: ssl.SSLContext | None = None) -> bool:
    with urllib.request.urlopen(url, context=ctx, timeout=5) as r:  # noqa: S310  # loopback health URLs we built
        return r.status == 200
