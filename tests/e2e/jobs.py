"""Run a Job made from a CronJob (`kubectl create job --from=cronjob/…`) and say everything about how it went.

A failed Job must explain itself in the assertion message: every pod's phase, each container's end (reason, exit
code, message), its log and the pod's events. The log comes from the kubelet (`kubectl logs`); when that answers
nothing (an error, or empty), from the node's own log files, so a container that printed something is never
reported as silent. A container that never started shows why in its state and events instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tools.cluster import ClusterInfo


@dataclass(frozen=True)
class JobRun:
    name: str
    succeeded: bool
    log: str  # every container's log, pod by pod
    report: str  # the above plus states and events: for assertion messages

    @property
    def said(self) -> str:
        """The log with line wrapping undone (the console wraps long lines at 80 columns without a terminal)."""
        return " ".join(self.log.split())

    def __str__(self) -> str:
        return self.report


def _container_end(status: client.V1ContainerStatus) -> str:
    state = status.state
    if state.terminated:
        t = state.terminated
        return f"terminated: {t.reason}, exit code {t.exit_code}" + (f", {t.message.strip()}" if t.message else "")
    if state.waiting:
        return f"waiting: {state.waiting.reason} {state.waiting.message or ''}".strip()
    return "running"


def _log(core: client.CoreV1Api, cluster: ClusterInfo, ns: str, pod: client.V1Pod, container: str) -> tuple[str, str]:
    """(log, where it came from): the kubelet's answer, retried briefly; else the node's files."""
    why = ""
    for _ in range(5):
        try:
            text = core.read_namespaced_pod_log(pod.metadata.name, ns, container=container)
        except ApiException as err:
            text, why = "", f"kubelet answered {err.status} {err.reason}: {(err.body or '')[:300]}"
        if text:
            return text, "kubelet"
        time.sleep(1)
    files = cluster.pod_log_files(ns, pod.metadata.name, pod.metadata.uid)
    text = "".join(v for k, v in files.items() if k.split("/", 1)[0] == container)
    return text, f"node files {sorted(files)} ({why or 'kubelet answered empty'})"


def describe_pods(kube: client.ApiClient, cluster: ClusterInfo, ns: str, selector: str) -> tuple[str, str]:
    """(all logs, full report) of the pods matching `selector`."""
    core = client.CoreV1Api(kube)
    pods = sorted(core.list_namespaced_pod(ns, label_selector=selector).items, key=lambda p: p.metadata.name)
    logs, report = [], []
    if not pods:
        report.append(f"no pod matches {selector}")
    for pod in pods:
        status = pod.status
        report.append(f"--- pod {pod.metadata.name}: {status.phase} {status.reason or ''} {status.message or ''}")
        for c in status.container_statuses or []:
            text, source = _log(core, cluster, ns, pod, c.name)
            logs.append(text)
            report.append(f"container {c.name} {_container_end(c)}; log from {source}:\n{text or '(empty)'}")
        for cond in status.conditions or []:
            if cond.status != "True":
                report.append(f"condition {cond.type}=False: {cond.reason or ''} {cond.message or ''}")
        events = core.list_namespaced_event(ns, field_selector=f"involvedObject.name={pod.metadata.name}").items
        report += [f"event {e.type} {e.reason}: {e.message}" for e in events]
    return "".join(logs), "\n".join(report)


def run_job_from_cronjob(
    kube: client.ApiClient,
    cluster: ClusterInfo,
    ns: str,
    cronjob: str,
    suffix: str,
    command: list[str] | None = None,
    timeout: float = 600,
) -> JobRun:
    """Create a Job from the CronJob's template (no retries; optionally another command) and wait until it ends."""
    batch = client.BatchV1Api(kube)
    spec = batch.read_namespaced_cron_job(cronjob, ns).spec.job_template.spec
    spec.backoff_limit = 0
    if command is not None:
        spec.template.spec.containers[0].command = command[:1]
        spec.template.spec.containers[0].args = command[1:]
    name = f"{cronjob}-{suffix}"[:63]
    batch.create_namespaced_job(ns, client.V1Job(metadata=client.V1ObjectMeta(name=name, namespace=ns), spec=spec))
    deadline = time.monotonic() + timeout
    while True:
        job = batch.read_namespaced_job(name, ns)
        done = {c.type for c in job.status.conditions or [] if c.status == "True"} & {"Complete", "Failed"}
        if done or time.monotonic() > deadline:
            break
        time.sleep(1)
    logs, report = describe_pods(kube, cluster, ns, f"job-name={name}")
    conditions = [f"{c.type}: {c.reason or ''} {c.message or ''}" for c in job.status.conditions or []]
    head = f"Job {name}: {', '.join(conditions) or f'still running after {timeout:.0f}s'}"
    return JobRun(name, "Complete" in done, logs, f"{head}\n{report}")


def run_pods(
    kube: client.ApiClient, cluster: ClusterInfo, pods: dict[str, str], image: str, argv: list[str],
    timeout: float = 180,
) -> dict[str, JobRun]:  # fmt: skip
    """Run one bare pod per {name: namespace} at once (image, argv; non-root, no retries) until each ends."""
    core = client.CoreV1Api(kube)
    for name, ns in pods.items():
        container = {
            "name": "probe", "image": image, "command": argv[:1], "args": argv[1:],
            "resources": {"limits": {"cpu": "200m", "memory": "128Mi"}},
            "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
        }  # fmt: skip
        spec = {"restartPolicy": "Never", "automountServiceAccountToken": False, "containers": [container]}
        core.create_namespaced_pod(ns, {"metadata": {"name": name, "labels": {"e2e-probe": name}}, "spec": spec})
    deadline, results = time.monotonic() + timeout, {}
    for name, ns in pods.items():
        while core.read_namespaced_pod(name, ns).status.phase not in ("Succeeded", "Failed"):
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        phase = core.read_namespaced_pod(name, ns).status.phase
        logs, report = describe_pods(kube, cluster, ns, f"e2e-probe={name}")
        results[name] = JobRun(name, phase == "Succeeded", logs, f"pod {name} in {ns}: {phase}\n{report}")
    return results
