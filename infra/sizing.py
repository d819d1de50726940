"""Does the serving autoscaler's maximum leave room in the namespace's quota for everything else?

At its maximum the service runs `max_replicas` pods, and a rolling update adds one more (maxSurge 1,
maxUnavailable 0). If that alone reaches the namespace's ResourceQuota, the API server refuses every other pod:
the object store cannot restart and no pipeline Job is admitted (staging once had 2 variants × 4 pods × 1 CPU =
its whole 8-CPU quota, when each A/B variant was a Deployment of its own). The serving program checks this
against the quota the platform exports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.components.pod import Sizing

_SUFFIX = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_QUANTITY = re.compile(r"^([0-9.]+)(m|k|M|G|Ki|Mi|Gi|Ti)?$")
SURGE_PODS = 1  # during a rolling update (infra/components/endpoint.py)


def quantity(value: str) -> float:
    """A Kubernetes quantity as a number: CPUs ("500m" → 0.5) or bytes ("2Gi" → 2147483648)."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 2Gi)")
    number, suffix = float(match.group(1)), match.group(2) or ""
    return number / 1000 if suffix == "m" else number * _SUFFIX[suffix]


@dataclass(frozen=True)
class Reserve:
    """What the rest of the namespace needs at the same time: the object store and one pipeline Job at their
    default limits (1 CPU / 1Gi each)."""

    cpu: str = "2"
    memory: str = "2Gi"


def quota_problem(
    *, max_replicas: int, sizing: Sizing, quota_cpu: str, quota_memory: str, reserve: Reserve
) -> str | None:
    """None when serving at its maximum (plus a rollout's surge) leaves `reserve` within the quota; else why not."""
    pods = max_replicas + SURGE_PODS
    problems = []
    for resource, limit, quota, kept in (
        ("CPU", sizing.cpu_limit, quota_cpu, reserve.cpu),
        ("memory", sizing.memory_limit, quota_memory, reserve.memory),
    ):
        needed = pods * quantity(limit) + quantity(kept)
        if needed > quantity(quota):
            problems.append(
                f"{resource}: ({max_replicas} + {SURGE_PODS} surge) pods × {limit} = "
                f"{pods * quantity(limit):g}{'' if resource == 'CPU' else ' bytes'}, plus {kept} for the store "
                f"and a pipeline Job, exceeds the namespace quota {quota}"
            )
    if not problems:
        return None
    return (
        "serving: at its autoscaling maximum the service would leave no room in the namespace's quota ("
        + "; ".join(problems)
        + "). Lower maxReplicas or the serving limits in this stack, or raise quotaCpu/quotaMemory in the platform "
        "stack."
    )


def require_room(quota: dict, *, max_replicas: int, sizing: Sizing) -> dict:
    """For `Output.apply` on the platform's quota output: raise with `quota_problem`'s message, else pass it on."""
    problem = quota_problem(
        max_replicas=max_replicas,
        sizing=sizing,
        quota_cpu=quota["cpu"],
        quota_memory=quota["memory"],
        reserve=Reserve(),
    )
    if problem:
        raise ValueError(problem)
    return quota
