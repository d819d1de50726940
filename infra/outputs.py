"""Stack output keys: the one list that exporters (`pulumi.export`) and readers (`StackReference`) share.

A project never copies another project's values: it reads them by these keys, so a renamed output breaks
a test here rather than a deployment.
"""

from __future__ import annotations

import pulumi

from pipelines.release.images import CONFIG_IMAGE_OUTPUT, IMAGE_OUTPUT

# platform: the namespace, the object store and the identities every workload runs with
PLATFORM_NAMESPACE = "namespace"
PLATFORM_LAKE_URL = "lakeUrl"  # s3://bucket/lake
PLATFORM_MODELS_URL = "modelsUrl"  # s3://bucket/lake/models: model exports and the champion pointer
PLATFORM_RAW_URL = "rawUrl"  # s3://bucket/raw: where raw drops land; `mlrig ingest` reads them there
PLATFORM_S3_ENDPOINT = "s3Endpoint"  # in-cluster store URL, or "" for the cloud's own endpoint
# the name of the Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
PLATFORM_STORE_CREDENTIALS_SECRET = "storeCredentialsSecret"  # noqa: S105 - an output key, not a secret
PLATFORM_LAKE_SETTINGS = "lakeSettingsConfigMap"  # ConfigMap: MLRIG_{LAKE,MODELS,RAW}_URL, AWS_* client settings
PLATFORM_PII_KEY_SECRET = "piiKeySecret"  # noqa: S105 - a key name; Secret name: MLRIG_PII_KEY
PLATFORM_PIPELINE_SERVICE_ACCOUNT = "pipelineServiceAccount"
PLATFORM_SERVING_SERVICE_ACCOUNT = "servingServiceAccount"
PLATFORM_QUOTA = "quota"  # {"cpu": …, "memory": …}: the namespace's ResourceQuota limits, for sizing checks
PLATFORM_MONITORING_NAMESPACE = "monitoringNamespace"  # where the Prometheus that scrapes /metrics runs

# data: the stage CronJobs, by stage
DATA_CRONJOBS = "cronJobs"

# ml: the training CronJob, and the tuning Job when a study database is configured
ML_TRAIN_CRONJOB = "trainCronJob"
ML_RETRAIN_CRONJOB = "retrainCronJob"  # monitoring: retrains (through the gate) when drift or outcomes ask for it
ML_TUNING_JOB = "tuningJob"

# serving: where the model answers, and which variants run
SERVING_SERVICE = "service"
SERVING_URL = "url"
SERVING_VARIANTS = "variants"
SERVING_API_KEYS_SECRET = "apiKeysSecret"  # noqa: S105 - the name of the Secret the service reads its keys from
# data, ml, serving: the image reference each runs, and the one its stack file named then (infra/release.py)
RELEASE = (IMAGE_OUTPUT, CONFIG_IMAGE_OUTPUT)

# What each project exports: tests check the programs against this, and answer StackReferences from it.
EXPORTS: dict[str, tuple[str, ...]] = {
    "platform": (
        PLATFORM_NAMESPACE,
        PLATFORM_LAKE_URL,
        PLATFORM_MODELS_URL,
        PLATFORM_RAW_URL,
        PLATFORM_S3_ENDPOINT,
        PLATFORM_LAKE_SETTINGS,
        PLATFORM_STORE_CREDENTIALS_SECRET,
        PLATFORM_PII_KEY_SECRET,
        PLATFORM_PIPELINE_SERVICE_ACCOUNT,
        PLATFORM_SERVING_SERVICE_ACCOUNT,
        PLATFORM_QUOTA,
        PLATFORM_MONITORING_NAMESPACE,
    ),
    "data": (DATA_CRONJOBS, *RELEASE),
    "ml": (ML_TRAIN_CRONJOB, ML_RETRAIN_CRONJOB, ML_TUNING_JOB, *RELEASE),
    "serving": (SERVING_SERVICE, SERVING_URL, SERVING_VARIANTS, SERVING_API_KEYS_SECRET, *RELEASE),
}


class MissingStackOutputError(KeyError):
    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


class Upstream:
    """A stack this program reads. Pulumi's own `require_output` fails on a missing key with a bare KeyError deep
    in the SDK; this names the stack, the output and what to do."""

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.reference = pulumi.StackReference(stack)

    def require(self, key: str) -> pulumi.Output:
        def present(value: object) -> object:
            if value is None:
                raise MissingStackOutputError(
                    f"stack {self.stack} has no output {key!r}: it is not a platform stack, or it predates this"
                    f" output. Point `platformStack` at the platform stack, or `pulumi up` that stack first."
                )
            return value

        return self.reference.get_output(key).apply(present)
