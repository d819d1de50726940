"""End-to-end check of the tools built by tools/build-tools.sh.

    python tools/smoke.py [--tools-dir DIR] [--workdir DIR] [--venv DIR] [--skip-pulumi]

1. Starts tools/cluster.py's local cluster, applies a Deployment (2 replicas)
   and a Job (with kubectl when present, else the raw API), waits for
   availableReplicas == 2 and the Job's Complete condition (kwok plays the
   pods), stops the cluster and checks that no process is left.
2. Starts the cluster again and runs a Python Pulumi program (a Namespace and a
   ConfigMap through an explicit kubernetes.Provider) with the built CLI,
   language host and provider plugin: `pulumi up`, `pulumi preview
   --expect-no-changes`, `pulumi destroy`. The program runs in a venv with pip
   (the language host lists plugins with `python -m pip list`) holding the
   `pulumi` / `pulumi-kubernetes` wheels pinned in tools/versions.env; it is
   created under the workdir unless --venv names an existing one.
Exit 0 when everything passed.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root, for `tools.*`
from tools import cluster
from tools.engine import PulumiEngine

HERE = Path(__file__).resolve().parent

MANIFESTS = [
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "smoke", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "smoke"}},
            "template": {
                "metadata": {"labels": {"app": "smoke"}},
                "spec": {"containers": [{"name": "c", "image": "localhost/smoke:never-pulled"}]},
            },
        },
    },
    {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "smoke", "namespace": "default"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "localhost/smoke:never-pulled"}],
                }
            },
        },
    },
]


def versions() -> dict[str, str]:
    out = {}
    for line in (HERE / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


def step(msg: str) -> None:
    print(f"--- {msg}", flush=True)


def check_workloads(info: cluster.ClusterInfo) -> None:
    api = info.api()
    kubectl = shutil.which("kubectl")
    if kubectl:
        step("kubectl apply (Deployment x2, Job)")
        subprocess.run(
            [kubectl, f"--kubeconfig={info.kubeconfig}", "apply", "-f", "-"],
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": MANIFESTS}),
            text=True,
            check=True,
        )
    else:
        step("raw API create (Deployment x2, Job)")
        for m in MANIFESTS:
            group = "/apis/apps/v1" if m["kind"] == "Deployment" else "/apis/batch/v1"
            st, body = api.request("POST", f"{group}/namespaces/default/{m['kind'].lower()}s", m)
            assert st in (200, 201), (st, body)

    t0 = time.monotonic()
    deploy_ok = job_ok = False
    while time.monotonic() - t0 < 120 and not (deploy_ok and job_ok):
        _, d = api.request("GET", "/apis/apps/v1/namespaces/default/deployments/smoke")
        _, j = api.request("GET", "/apis/batch/v1/namespaces/default/jobs/smoke")
        deploy_ok = (d.get("status", {}).get("availableReplicas") or 0) == 2
        conds = {c["type"]: c["status"] for c in j.get("status", {}).get("conditions", []) or []}
        job_ok = conds.get("Complete") == "True"
        if conds.get("Failed") == "True":
            raise AssertionError(f"Job failed: {j.get('status')}")
        time.sleep(1)
    print(f"Deployment availableReplicas==2: {deploy_ok}; Job Complete: {job_ok} ({time.monotonic() - t0:.1f}s)")
    if kubectl:
        subprocess.run([kubectl, f"--kubeconfig={info.kubeconfig}", "get", "nodes,deploy,jobs,pods", "-o", "wide"])
    assert deploy_ok, "the Deployment did not become available under kwok"
    assert job_ok, "the Job did not complete under kwok"


PROGRAM = textwrap.dedent(
    """\
    from pathlib import Path

    import pulumi
    import pulumi_kubernetes as k8s

    cfg = pulumi.Config()
    provider = k8s.Provider("local", kubeconfig=Path(cfg.require("kubeconfig")).read_text())
    opts = pulumi.ResourceOptions(provider=provider)
    ns = k8s.core.v1.Namespace("smoke", metadata={"name": "pulumi-smoke"}, opts=opts)
    cm = k8s.core.v1.ConfigMap(
        "smoke",
        metadata={"name": "smoke", "namespace": ns.metadata["name"]},
        data={"hello": "world"},
        opts=opts,
    )
    pulumi.export("namespace", ns.metadata["name"])
    pulumi.export("configmap", cm.metadata["name"])
    """
)


def ensure_venv(venv: Path, v: dict[str, str]) -> Path:
    py = venv / "bin" / "python"
    want = [f"pulumi=={v['PULUMI_VERSION']}", f"pulumi-kubernetes=={v['PULUMI_K8S_VERSION']}"]
    if not py.exists():
        step(f"creating venv {venv} with {' '.join(want)}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    have = subprocess.run([str(py), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    if not all(w.lower().replace("-", "_") in have.lower().replace("-", "_") for w in want):
        subprocess.run([str(py), "-m", "pip", "install", "-q", *want], check=True)
    return py


def check_pulumi(info: cluster.ClusterInfo, tools_dir: Path, work: Path, venv: Path) -> None:
    v = versions()
    py = ensure_venv(venv, v)
    proj = work / "project"
    state = work / "state"
    proj.mkdir(parents=True)
    state.mkdir(parents=True)
    (proj / "Pulumi.yaml").write_text("name: mlrig-smoke\nruntime: python\n")
    (proj / "__main__.py").write_text(PROGRAM)

    engine = PulumiEngine(
        tools_dir=tools_dir,
        state_dir=state,
        python=py,
        passphrase=secrets.token_urlsafe(16),  # a throwaway state in a temporary folder
        kubeconfig=info.kubeconfig,
    )

    def pulumi(*args: str) -> None:
        step("pulumi " + " ".join(args))
        run = engine(proj, *args, check=False)
        print(run.output, end="")
        print(f"    ({run.seconds:.1f}s, rc={run.returncode})")
        if run.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed")

    engine.login()
    pulumi("stack", "init", "dev")
    pulumi("config", "set", "kubeconfig", str(info.kubeconfig))
    pulumi("up", "--yes")
    api = info.api()
    st, cm = api.request("GET", "/api/v1/namespaces/pulumi-smoke/configmaps/smoke")
    assert st == 200, (st, cm)
    assert cm["data"] == {"hello": "world"}, cm
    print("ConfigMap pulumi-smoke/smoke exists with data hello=world")
    pulumi("preview", "--expect-no-changes")
    pulumi("destroy", "--yes")
    st, _ = api.request("GET", "/api/v1/namespaces/pulumi-smoke/configmaps/smoke")
    assert st == 404, f"ConfigMap still there after destroy ({st})"
    pulumi("stack", "rm", "--yes")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tools-dir", type=Path)
    ap.add_argument("--workdir", type=Path, default=Path(".cache/smoke"))
    ap.add_argument("--venv", type=Path, help="venv with pip (default: WORKDIR/venv, created if missing)")
    ap.add_argument("--skip-pulumi", action="store_true")
    args = ap.parse_args()
    tools_dir = (args.tools_dir or cluster.default_tools_dir()).resolve()
    work = args.workdir.resolve()
    venv = (args.venv or work / "venv").resolve()
    bin_dir = tools_dir / "bin"
    for d in ("cluster", "pulumi"):
        shutil.rmtree(work / d, ignore_errors=True)

    step("cluster + kwok workloads")
    t0 = time.monotonic()
    with cluster.local_cluster(bin_dir, work / "cluster", node="kwok") as info:
        print(f"cluster ready in {time.monotonic() - t0:.1f}s at {info.api_url}")
        check_workloads(info)
    left = cluster.leftover(bin_dir)
    assert not left, f"processes left behind: {left}"
    print("cluster stopped, no process left behind")

    if not args.skip_pulumi:
        step("cluster + pulumi up/preview/destroy")
        with cluster.local_cluster(bin_dir, work / "cluster", node="kwok") as info:
            check_pulumi(info, tools_dir, work / "pulumi", venv)
        left = cluster.leftover(bin_dir)
        assert not left, f"processes left behind: {left}"
        print("cluster stopped, no process left behind")
    print("SMOKE OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
