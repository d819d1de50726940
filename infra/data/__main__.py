"""Data: the data pipeline as CronJobs in the platform's namespace (ingest → refine → features → quality report),
each on the pipeline image with its schedule, retry budget, deadline, no overlap (Forbid) and a short history.

Scale-out: refine and features run as Indexed Jobs of `partitions` pods (a stack setting), pod i refining or
building shard i of the same Delta tables (JOB_COMPLETION_INDEX tells `mlrig` which); their commits race and
are retried. Order does not rest on the clocks: features runs `--if-ready`, so it builds nothing until refine
has read bronze's latest version for its shard, and a late ingest or a slow refine never yields stale gold.

Reads from the platform stack: namespace, lake settings, store credentials, PII key, pipeline identity.
"""

import pulumi

from infra import outputs
from infra.components import ContainerArgs, HardenedJob, HardenedJobArgs
from infra.settings import DataSettings

settings = DataSettings.from_stack_config()
platform = outputs.Upstream(settings.platform_stack)
ns = platform.require(outputs.PLATFORM_NAMESPACE)
store_secret = platform.require(outputs.PLATFORM_STORE_CREDENTIALS_SECRET)

lake_settings = platform.require(outputs.PLATFORM_LAKE_SETTINGS)  # MLRIG_LAKE_URL and the S3 client's settings
env = {"MLRIG_WORK_DIR": "/tmp/mlrig"}  # noqa: S108 - an emptyDir: scratch only, the lake is in the store
secret_env = {
    "AWS_ACCESS_KEY_ID": (store_secret, "AWS_ACCESS_KEY_ID"),
    "AWS_SECRET_ACCESS_KEY": (store_secret, "AWS_SECRET_ACCESS_KEY"),
    "MLRIG_PII_KEY": (platform.require(outputs.PLATFORM_PII_KEY_SECRET), "MLRIG_PII_KEY"),
}


def stage_args(stage: str) -> tuple[str, ...]:
    """The stage's `mlrig` arguments; a sharded stage's pod reads its index from JOB_COMPLETION_INDEX."""
    if stage not in settings.SHARDED:
        return (stage,)
    gate = ("--if-ready",) if stage == "features" else ()
    return (stage, "--shards", str(settings.partitions), *gate)


jobs = {
    stage: HardenedJob(
        f"data-{stage}",
        HardenedJobArgs(
            namespace=ns,
            service_account=platform.require(outputs.PLATFORM_PIPELINE_SERVICE_ACCOUNT),
            schedule=schedule,
            parallelism=settings.partitions if stage in settings.SHARDED else 1,
            active_deadline_seconds=settings.deadline_seconds,
            backoff_limit=settings.backoff_limit,
            labels={"mlrig.io/pipeline": "data", "mlrig.io/stage": stage},
            container=ContainerArgs(
                name=stage,
                image=settings.image,
                user_uid=settings.user_uid,
                command=("mlrig",),
                args=stage_args(stage),
                env=env,
                env_from_config_maps=(lake_settings,),
                secret_env=secret_env,
                sizing=settings.sizing,
            ),
        ),
    )
    for stage, schedule in settings.schedules.items()
}

pulumi.export(outputs.DATA_CRONJOBS, {stage: job.name for stage, job in jobs.items()})
