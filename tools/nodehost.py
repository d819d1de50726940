"""The host resources one real node owns: a slot (network plan), its network namespace, veth and routes, its
cgroup subtree — claimed so that several clusters on one machine never collide, and scrubbed without trace.

A slot is claimed by an exclusive `flock` on /run/mlrig-clusters/slot-<n>.lock held for the cluster's lifetime:
the kernel drops the lock when its owner dies, so a slot whose owner crashed is free again, and the next owner
first scrubs what the dead one left (processes in its cgroups, its netns, its veth, its routes). Every name and
address derives from the slot number:

    netns  mlrig-n<n>         host veth  mlrig<n>h (node side: eth0)     cgroup root  <caller's>/mlrig-n<n>
    link   10.A.B.0/30        (host .1, node .2)                          A = 224 + n // 16, B = (n % 16) * 16
    pods   10.A.(B+4).0/22    services  10.A.(B+8).0/22 (.1 the API, .10 DNS)

The node's namespace has no default route: pods reach the host's link address (the API server, the registry)
and each other, nothing beyond this machine.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

LOCK_DIR = Path("/run/mlrig-clusters")
CGROUP_FS = Path("/sys/fs/cgroup")
MAX_SLOTS = 64


class NodeHostError(RuntimeError):
    """A host resource could not be set up; the message names the command and what to do."""


@dataclass(frozen=True)
class Slot:
    index: int

    @property
    def _base(self) -> tuple[int, int]:
        return 224 + self.index // 16, (self.index % 16) * 16

    @property
    def netns(self) -> str:
        return f"mlrig-n{self.index}"

    @property
    def host_if(self) -> str:
        return f"mlrig{self.index}h"

    @property
    def host_ip(self) -> str:
        a, b = self._base
        return f"10.{a}.{b}.1"

    @property
    def node_ip(self) -> str:
        a, b = self._base
        return f"10.{a}.{b}.2"

    @property
    def pod_cidr(self) -> str:
        a, b = self._base
        return f"10.{a}.{b + 4}.0/22"

    @property
    def service_cidr(self) -> str:
        a, b = self._base
        return f"10.{a}.{b + 8}.0/22"

    @property
    def api_service_ip(self) -> str:
        return str(ipaddress.ip_network(self.service_cidr)[1])

    @property
    def dns_ip(self) -> str:
        return str(ipaddress.ip_network(self.service_cidr)[10])

    @property
    def cgroup_name(self) -> str:
        return f"mlrig-n{self.index}"


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise NodeHostError(f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done


# ------------------------------------------------------------------------------------------------ cgroups


def _hierarchies() -> list[Path]:
    """Every mounted cgroup hierarchy (v1 controllers and, on hybrid hosts, the unified one)."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, mountpoint, fstype, *_ = line.split()
        if fstype in ("cgroup", "cgroup2") and mountpoint.startswith(str(CGROUP_FS)):
            found.append(Path(mountpoint))
    return found


def caller_cgroup() -> str:
    """The memory cgroup we run in: the node's pods nest under it, so they count against the caller's limits."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return path.rstrip("/")
    return ""


def cgroup_root(slot: Slot) -> str:
    return f"{caller_cgroup()}/{slot.cgroup_name}"


def make_cgroups(root: str, children: tuple[str, ...] = ("node",)) -> list[str]:
    """Create `root` (and children) in every hierarchy; cpuset ones inherit the parent's cpus and mems.
    Returns every folder made, parents included, so that `remove_dirs` can take them away again."""
    made: list[str] = []
    for hierarchy in _hierarchies():
        for rel in (root, *(f"{root}/{c}" for c in children)):
            path = hierarchy / rel.lstrip("/")
            parts = path.relative_to(hierarchy).parts
            for depth in range(1, len(parts) + 1):
                sub = hierarchy.joinpath(*parts[:depth])
                if not sub.exists():
                    sub.mkdir()
                    made.append(str(sub))
                    for knob in ("cpuset.cpus", "cpuset.mems"):
                        if (sub / knob).exists():
                            (sub / knob).write_text((sub.parent / knob).read_text())
    return made


def remove_dirs(made: list[str]) -> None:
    """Remove the cgroup folders `make_cgroups` made (deepest first) that still exist and are empty."""
    for path in sorted(made, key=lambda p: -len(Path(p).parts)):
        with contextlib.suppress(FileNotFoundError, OSError):  # busy: another cluster's root shares the parent
            Path(path).rmdir()


def join_cgroup(root: str, child: str = "node") -> None:
    """Move the calling process into root/child in every hierarchy (runs in a child before exec)."""
    for hierarchy in _hierarchies():
        procs = hierarchy / root.lstrip("/") / child / "cgroup.procs"
        with contextlib.suppress(OSError):
            procs.write_text(str(os.getpid()))


def peak_memory_bytes(root: str) -> int | None:
    """The most memory the node (daemons and pods) used at once, per the memory controller; None if unknown."""
    for name in ("memory.max_usage_in_bytes", "memory.peak"):  # cgroup v1, v2
        knob = CGROUP_FS / "memory" / root.lstrip("/") / name
        if knob.exists():
            return int(knob.read_text().strip())
    return None


def cgroup_pids(root: str) -> set[int]:
    pids: set[int] = set()
    for hierarchy in _hierarchies():
        top = hierarchy / root.lstrip("/")
        if top.is_dir():
            for procs in top.rglob("cgroup.procs"):
                with contextlib.suppress(OSError):
                    pids |= {int(p) for p in procs.read_text().split()}
    return pids


def kill_cgroup(root: str, timeout: float = 20.0) -> None:
    """SIGKILL every process under `root` (containers, shims, daemons) until none is left, then remove it."""
    freezer = CGROUP_FS / "freezer" / root.lstrip("/")
    deadline = time.monotonic() + timeout
    while pids := cgroup_pids(root):
        if freezer.is_dir():  # frozen, nothing forks between the read and the kill
            with contextlib.suppress(OSError):
                (freezer / "freezer.state").write_text("FROZEN")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if freezer.is_dir():
            with contextlib.suppress(OSError):
                (freezer / "freezer.state").write_text("THAWED")
        if time.monotonic() > deadline:
            raise NodeHostError(f"processes {sorted(pids)} in cgroup {root} survive SIGKILL")
        time.sleep(0.2)
    for hierarchy in _hierarchies():
        top = hierarchy / root.lstrip("/")
        if top.is_dir():
            for sub in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                _rmdir(sub)
            _rmdir(top)


def _rmdir(path: Path) -> None:
    for _ in range(50):  # a cgroup whose last task just died can stay busy for a moment
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as err:
            if err.errno != errno.EBUSY:
                raise
            time.sleep(0.1)
    raise NodeHostError(f"cgroup {path} stays busy")


# ------------------------------------------------------------------------------------------------ network


def _host_routes() -> list[ipaddress.IPv4Network]:
    routes = json.loads(_run("ip", "-j", "-4", "route", "show", "table", "all").stdout or "[]")
    nets = []
    for route in routes:
        dst = route.get("dst", "")
        if dst and dst != "default" and route.get("type", "unicast") == "unicast":
            with contextlib.suppress(ValueError):
                nets.append(ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False))
    return nets


def _overlaps_host(slot: Slot) -> bool:
    ours = [ipaddress.ip_network(c, strict=False) for c in (f"{slot.host_ip}/30", slot.pod_cidr, slot.service_cidr)]
    return any(a.overlaps(b) for a in ours for b in _host_routes())


def setup_network(slot: Slot) -> None:
    """Namespace, veth pair with the link addresses, host routes to pods and services, forwarding inside."""
    ns = slot.netns
    _run("ip", "netns", "add", ns)
    _run("ip", "link", "add", slot.host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
    _run("ip", "addr", "add", f"{slot.host_ip}/30", "dev", slot.host_if)
    _run("ip", "link", "set", slot.host_if, "up")
    _run("ip", "-n", ns, "addr", "add", f"{slot.node_ip}/30", "dev", "eth0")
    _run("ip", "-n", ns, "link", "set", "eth0", "up")
    _run("ip", "-n", ns, "link", "set", "lo", "up")
    for cidr in (slot.pod_cidr, slot.service_cidr):
        _run("ip", "route", "add", cidr, "via", slot.node_ip, "dev", slot.host_if)
    # per-namespace switches: the node routes for its pods, and bridged pod traffic passes kube-proxy's rules
    for key in ("net.ipv4.ip_forward", "net.bridge.bridge-nf-call-iptables"):
        _run("ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}=1")


def teardown_network(slot: Slot) -> None:
    """Remove the routes, the veth (its peer goes with it) and the namespace (its iptables and bridge with it)."""
    for cidr in (slot.pod_cidr, slot.service_cidr):
        _run("ip", "route", "del", cidr, check=False)
    _run("ip", "link", "del", slot.host_if, check=False)
    if (Path("/run/netns") / slot.netns).exists():
        _run("ip", "netns", "del", slot.netns)


def leftovers(slot: Slot) -> list[str]:
    """What of `slot` still exists on the host: [] after a clean stop (tests assert it)."""
    found = []
    if (Path("/run/netns") / slot.netns).exists():
        found.append(f"netns {slot.netns}")
    if _run("ip", "link", "show", slot.host_if, check=False).returncode == 0:
        found.append(f"link {slot.host_if}")
    routes = {str(n) for n in _host_routes()}
    found += [f"route {c}" for c in (slot.pod_cidr, slot.service_cidr) if c in routes]
    root = cgroup_root(slot)
    found += [f"cgroup {h / root.lstrip('/')}" for h in _hierarchies() if (h / root.lstrip("/")).exists()]
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {line.split()[4]}" for line in mounts.splitlines() if f"/{slot.netns}" in line.split()[4]]
    return found


def _state_file(slot: Slot) -> Path:
    return LOCK_DIR / f"slot-{slot.index}.json"


def scrub(slot: Slot) -> None:
    """Remove everything a previous owner of `slot` may have left (it died without cleaning up)."""
    state = _state_file(slot)
    if state.exists():  # the dead owner's cgroup root may differ from ours (another caller cgroup)
        with contextlib.suppress(ValueError, KeyError):
            recorded = json.loads(state.read_text())
            kill_cgroup(recorded["cgroup"])
            remove_dirs(recorded.get("made", []))
        state.unlink()
    kill_cgroup(cgroup_root(slot))
    teardown_network(slot)


class SlotLock:
    """An exclusive claim on one slot for this process's lifetime (released by `release` or by dying)."""

    def __init__(self, workdir: Path) -> None:
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        for index in range(MAX_SLOTS):
            fd = os.open(LOCK_DIR / f"slot-{index}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            slot = Slot(index)
            scrub(slot)
            if _overlaps_host(slot):  # something else on this host routes these addresses: leave them alone
                os.close(fd)
                continue
            self.fd, self.slot, self.workdir = fd, slot, workdir
            self.made: list[str] = []
            self._record()
            return
        raise NodeHostError(f"all {MAX_SLOTS} cluster slots are taken or overlap host routes (see {LOCK_DIR})")

    def _record(self) -> None:
        state = {"cgroup": cgroup_root(self.slot), "made": self.made, "pid": os.getpid(), "workdir": str(self.workdir)}
        _state_file(self.slot).write_text(json.dumps(state))

    def make_cgroups(self) -> str:
        """The slot's cgroup root, made in every hierarchy (recorded, so a crash leaves nothing unknown)."""
        root = cgroup_root(self.slot)
        self.made += make_cgroups(root)
        self._record()
        return root

    def release(self) -> None:
        """Kill what runs in the slot's cgroups, remove its network and cgroup folders, give up the claim."""
        kill_cgroup(cgroup_root(self.slot))
        teardown_network(self.slot)
        remove_dirs(self.made)
        with contextlib.suppress(OSError):
            _state_file(self.slot).unlink()
        with contextlib.suppress(OSError):
            os.close(self.fd)
