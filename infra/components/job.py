"""HardenedJob: one pipeline step as a Kubernetes Job, or as a CronJob when it has a schedule.

Every run has a deadline, a retry budget and a time-to-live; a scheduled step never overlaps itself
(concurrencyPolicy Forbid) and keeps a short history. Parallel workers run as an Indexed Job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from infra.components.pod import LAKE_ACCESS_LABEL, ContainerArgs, pod_spec


@dataclass(frozen=True, kw_only=True)
class HardenedJobArgs:
    namespace: pulumi.Input[str]
    container: ContainerArgs
    service_account: pulumi.Input[str]
    schedule: str | None = None  # cron (UTC); None → a one-off Job
    active_deadline_seconds: int = 3600
    backoff_limit: int = 2
    ttl_seconds_after_finished: int = 86_400
    parallelism: int = 1  # > 1 → an Indexed Job with that many workers (JOB_COMPLETION_INDEX in each)
    starting_deadline_seconds: int = 600
    successful_jobs_history_limit: int = 3
    failed_jobs_history_limit: int = 3
    suspend: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.active_deadline_seconds <= 0:
            raise ValueError("active_deadline_seconds must be positive: every Job needs a deadline")
        if not 0 <= self.backoff_limit <= 10:
            raise ValueError("backoff_limit must be between 0 and 10")
        if self.parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        if self.schedule is not None and len(self.schedule.split()) != 5:
            raise ValueError(f"schedule {self.schedule!r} is not a five-field cron expression")


class HardenedJob(pulumi.ComponentResource):
    name: pulumi.Output[str]

    def __init__(self, name: str, args: HardenedJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlrig:batch:HardenedJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {
            "app.kubernetes.io/name": name,
            "app.kubernetes.io/part-of": "mlrig",
            LAKE_ACCESS_LABEL: "true",
            **args.labels,
        }
        job_spec: dict[str, Any] = {
            "backoffLimit": args.backoff_limit,
            "activeDeadlineSeconds": args.active_deadline_seconds,
            "ttlSecondsAfterFinished": args.ttl_seconds_after_finished,
            "template": {
                "metadata": {"labels": labels},
                "spec": pod_spec([args.container], service_account=args.service_account, restart_policy="Never"),
            },
        }
        if args.parallelism > 1:
            job_spec |= {"completionMode": "Indexed", "completions": args.parallelism, "parallelism": args.parallelism}
        metadata = {"name": name, "namespace": args.namespace, "labels": labels}
        if args.schedule is None:
            job = k8s.batch.v1.Job(name, metadata=metadata, spec=job_spec, opts=child)
        else:
            job = k8s.batch.v1.CronJob(
                name,
                metadata=metadata,
                spec={
                    "schedule": args.schedule,
                    "timeZone": "Etc/UTC",
                    "concurrencyPolicy": "Forbid",
                    "startingDeadlineSeconds": args.starting_deadline_seconds,
                    "successfulJobsHistoryLimit": args.successful_jobs_history_limit,
                    "failedJobsHistoryLimit": args.failed_jobs_history_limit,
                    "suspend": args.suspend,
                    "jobTemplate": {"metadata": {"labels": labels}, "spec": job_spec},
                },
                opts=child,
            )
        self.name = job.metadata.apply(lambda m: m.name)
        self.register_outputs({"name": self.name})
