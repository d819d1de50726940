"""ML: scheduled training (`mlrig retrain --force`: train, then the blocking gate), the monitoring loop
(`mlrig retrain`: drift and outcomes, retraining through the gate only when they ask for it) and, when a study
database is configured (the `tuningDbUrl` secret), Optuna tuning workers as one Indexed Job sharing that study.

Reads from the platform stack: namespace, lake settings (lake and models URLs, S3 client), store credentials, identity.
"""

import pulumi
import pulumi_kubernetes as k8s

from infra import outputs
from infra.components import ContainerArgs, HardenedJob, HardenedJobArgs
from infra.components.namespace import allow_egress
from infra.settings import MlSettings, database_port

settings = MlSettings.from_stack_config()
platform = outputs.Upstream(settings.platform_stack)
ns = platform.require(outputs.PLATFORM_NAMESPACE)
store_secret = platform.require(outputs.PLATFORM_STORE_CREDENTIALS_SECRET)
identity = platform.require(outputs.PLATFORM_PIPELINE_SERVICE_ACCOUNT)

lake_settings = platform.require(outputs.PLATFORM_LAKE_SETTINGS)  # MLRIG_LAKE_URL, MLRIG_MODELS_URL, AWS_*
env = {"MLRIG_WORK_DIR": "/tmp/mlrig", "OMP_NUM_THREADS": "1"}  # noqa: S108 - an emptyDir
secret_env = {
    "AWS_ACCESS_KEY_ID": (store_secret, "AWS_ACCESS_KEY_ID"),
    "AWS_SECRET_ACCESS_KEY": (store_secret, "AWS_SECRET_ACCESS_KEY"),
}


def step(name: str, args: tuple[str, ...], **job: object) -> HardenedJob:
    container = ContainerArgs(
        name=name,
        image=settings.image,
        user_uid=settings.user_uid,
        command=("mlrig",),
        args=args,
        env=env,
        env_from_config_maps=(lake_settings,),
        secret_env=secret_env,
        sizing=settings.sizing,
    )
    return HardenedJob(
        f"ml-{name}",
        HardenedJobArgs(
            namespace=ns,
            service_account=identity,
            container=container,
            active_deadline_seconds=settings.deadline_seconds,
            backoff_limit=settings.backoff_limit,
            labels={"mlrig.io/pipeline": "ml", "mlrig.io/stage": name},
            **job,
        ),
    )


train = step("train", ("retrain", "--force"), schedule=settings.train_schedule)
retrain = step("retrain", ("retrain",), schedule=settings.retrain_schedule)
pulumi.export(outputs.ML_TRAIN_CRONJOB, train.name)
pulumi.export(outputs.ML_RETRAIN_CRONJOB, retrain.name)

tuning_name: pulumi.Input[str] = ""
if settings.tuning_db_url is not None:
    study = k8s.core.v1.Secret(
        "optuna-storage",
        metadata={"name": "optuna-storage", "namespace": ns},
        type="Opaque",
        string_data={"OPTUNA_STORAGE": settings.tuning_db_url},
    )
    secret_env["OPTUNA_STORAGE"] = (study.metadata.apply(lambda m: m.name), "OPTUNA_STORAGE")
    tuning = step("tune", ("tune", "--trials", str(settings.tuning_trials)), parallelism=settings.tuning_workers)
    # default-deny would cut the workers off their shared study: let them (and only them) reach its port
    allow_egress("tuning-db-egress", ns, {"mlrig.io/stage": "tune"}, settings.tuning_db_url.apply(database_port))
    tuning_name = tuning.name
pulumi.export(outputs.ML_TUNING_JOB, tuning_name)
