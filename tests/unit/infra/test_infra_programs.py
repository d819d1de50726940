"""The four Pulumi programs under Pulumi's mocks, for each stack's own config (infra/<project>/Pulumi.<stack>.yaml)."""

from __future__ import annotations

import re

import pytest
import yaml

from infra import outputs
from infra.components.pod import ContainerArgs
from infra.images.layout import BENTOML_HOME
from infra.policy import rules
from infra.settings import STACKS, Sizing, database_port
from infra.sizing import Reserve, quota_problem
from infra.testing import (
    INFRA_DIR,
    PROJECTS,
    TEST_SECRETS,
    assert_every_container_limited_and_non_root,
    platform_outputs,
    pod_specs,
    run_program,
    stack_config,
)
from pipelines.config import LIVENESS_PATH, READINESS_PATH, load_config, models_url
from service.guard import API_KEYS_ENV

RUNS = [(p, s) for s in STACKS for p in PROJECTS]
SERVING_PORT = load_config(INFRA_DIR.parent / "mlrig.toml").serving.port


@pytest.mark.parametrize(("project", "stack"), RUNS)
def test_each_program_exports_exactly_the_shared_keys(stack_runs, project, stack):
    assert set(stack_runs[(project, stack)].exports) == set(outputs.EXPORTS[project])


@pytest.mark.parametrize("stack", STACKS)
def test_stack_reference_stand_in_matches_what_platform_exports(stack_runs, stack):
    exported = stack_runs[("platform", stack)].exports
    stand_in = platform_outputs(stack)
    assert set(exported) == set(stand_in)
    for key in (
        outputs.PLATFORM_NAMESPACE,
        outputs.PLATFORM_STORE_CREDENTIALS_SECRET,
        outputs.PLATFORM_PII_KEY_SECRET,
        outputs.PLATFORM_PIPELINE_SERVICE_ACCOUNT,
        outputs.PLATFORM_SERVING_SERVICE_ACCOUNT,
    ):
        assert exported[key] == stand_in[key], key


@pytest.mark.parametrize(("project", "stack"), RUNS)
def test_every_container_has_limits_and_runs_as_non_root(stack_runs, project, stack):
    run = stack_runs[(project, stack)]
    if project == "platform" and stack == "prod":  # an existing bucket: no store, no bucket Job
        assert pod_specs(run) == []
        return
    assert_every_container_limited_and_non_root(run)


@pytest.mark.parametrize(("project", "stack"), RUNS)
def test_every_job_has_a_deadline_a_retry_budget_and_a_ttl(stack_runs, project, stack):
    run = stack_runs[(project, stack)]
    for d in run.mocks.of_type("batch/v1:Job"):
        assert d.inputs["spec"]["activeDeadlineSeconds"] > 0 and d.inputs["spec"]["backoffLimit"] <= 10
        assert d.inputs["spec"]["ttlSecondsAfterFinished"] > 0
    for d in run.mocks.of_type("batch/v1:CronJob"):
        spec = d.inputs["spec"]
        assert spec["concurrencyPolicy"] == "Forbid", d.name
        assert spec["successfulJobsHistoryLimit"] <= 3 and spec["failedJobsHistoryLimit"] <= 3
        assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] > 0
        assert spec["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("stack", STACKS)
def test_data_runs_each_stage_on_the_pipeline_image_with_its_stack_schedule(stack_runs, stack):
    cronjobs = {d.name: d.inputs["spec"] for d in stack_runs[("data", stack)].mocks.of_type(":CronJob")}
    assert set(cronjobs) == {"data-ingest", "data-refine", "data-features", "data-report"}
    config = yaml.safe_load((INFRA_DIR / "data" / f"Pulumi.{stack}.yaml").read_text())["config"]
    partitions = int(config.get("mlrig-data:partitions", 1))
    for name, spec in cronjobs.items():
        stage = name.removeprefix("data-")
        job = spec["jobTemplate"]["spec"]
        container = job["template"]["spec"]["containers"][0]
        assert container["image"] == f"ghcr.io/mlrig/mlrig-pipeline:{config['mlrig-data:imageTag']}"
        if stage in ("refine", "features"):  # one pod per shard; features waits for its shard's refine
            assert container["args"][:3] == [stage, "--shards", str(partitions)]
            assert ("--if-ready" in container["args"]) == (stage == "features")
            if partitions > 1:
                assert job["completionMode"] == "Indexed"
                assert job["completions"] == job["parallelism"] == partitions
        else:
            assert container["args"] == [stage] and "completionMode" not in job
        if f"mlrig-data:{stage}Schedule" in config:
            assert spec["schedule"] == config[f"mlrig-data:{stage}Schedule"]


def test_data_partitions_is_a_stack_setting(run_project):
    run = run_project("data", "dev", config={"partitions": "4"})
    jobs = {d.name: d.inputs["spec"]["jobTemplate"]["spec"] for d in run.mocks.of_type(":CronJob")}
    assert jobs["data-refine"]["parallelism"] == jobs["data-features"]["parallelism"] == 4
    assert "parallelism" not in jobs["data-ingest"]  # one ingest: two would append the same drop twice


def _deployments(run):
    return list(run.mocks.of_type("apps/v1:Deployment"))


def test_prod_serving_has_a_pdb_an_hpa_and_at_least_two_replicas(stack_runs):
    run = stack_runs[("serving", "prod")]
    deployment = run.mocks.only("apps/v1:Deployment").inputs
    assert deployment["spec"]["replicas"] >= 2
    hpa = run.mocks.only("HorizontalPodAutoscaler").inputs["spec"]
    assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] > hpa["minReplicas"]
    pdb = run.mocks.only("PodDisruptionBudget").inputs["spec"]
    assert pdb["selector"]["matchLabels"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_dev_serving_fits_a_laptop_cluster(stack_runs):
    run = stack_runs[("serving", "dev")]
    assert run.mocks.only("apps/v1:Deployment").inputs["spec"]["replicas"] == 1
    assert run.mocks.of_type(":Ingress") == []


@pytest.mark.parametrize("stack", STACKS)
def test_probes_point_at_the_services_real_health_paths_and_port(stack_runs, stack):
    for d in _deployments(stack_runs[("serving", stack)]):
        c = d.inputs["spec"]["template"]["spec"]["containers"][0]
        assert c["livenessProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": SERVING_PORT}
        assert c["readinessProbe"]["httpGet"] == {"path": READINESS_PATH, "port": SERVING_PORT}
        assert c["ports"][0]["containerPort"] == SERVING_PORT
        mounts = {m["mountPath"] for m in c["volumeMounts"] if m["name"].startswith("rw-")}
        # the image's own $BENTOML_HOME (BentoML writes its Prometheus files there at serve time), not BentoML's default
        assert mounts == {"/tmp", BENTOML_HOME}
    assert (LIVENESS_PATH, READINESS_PATH) == ("/livez", "/readyz")


@pytest.mark.parametrize("stack", STACKS)
def test_rolling_updates_never_drop_below_capacity(stack_runs, stack):
    for d in _deployments(stack_runs[("serving", stack)]):
        assert d.inputs["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}


@pytest.mark.parametrize("stack", STACKS)
def test_one_deployment_named_after_the_service_serves_every_ab_variant(stack_runs, stack):
    """A/B lives in [serving.variants], pinned into the Bento: Kubernetes runs one Deployment, not one per variant."""
    run = stack_runs[("serving", stack)]
    config = load_config(INFRA_DIR.parent / "mlrig.toml")
    (deployment,) = _deployments(run)
    assert deployment.name == config.serving.service_name
    env = {e["name"] for e in deployment.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "MLRIG_MODEL_TAG" not in env  # a pinned Bento would never read it
    assert len(run.mocks.of_type("PodDisruptionBudget")) == len(run.mocks.of_type("HorizontalPodAutoscaler")) == 1
    assert run.exports[outputs.SERVING_VARIANTS] == list(config.serving.variants)


@pytest.mark.parametrize("setting", [{"abTest": "true"}, {"variants": [{"name": "champion"}]}])
def test_a_stack_level_ab_test_is_refused_naming_where_ab_lives(run_project, setting):
    with pytest.raises(ValueError, match=r"\[serving.variants\] in the project config"):
        run_project("serving", "staging", config=setting)


def test_prod_ingress_serves_the_domain_over_tls(stack_runs):
    run = stack_runs[("serving", "prod")]
    ingress = run.mocks.only(":Ingress").inputs["spec"]
    assert ingress["rules"][0]["host"] == "churn.example.com" and ingress["tls"][0]["hosts"] == ["churn.example.com"]
    assert run.exports[outputs.SERVING_URL] == "https://churn.example.com"


@pytest.mark.parametrize("project", ["data", "ml", "serving"])
def test_a_missing_platform_output_is_refused(run_project, project):
    partial = {k: v for k, v in platform_outputs("dev").items() if k != outputs.PLATFORM_NAMESPACE}
    with pytest.raises(KeyError, match=outputs.PLATFORM_NAMESPACE):
        run_project(project, "dev", stack_outputs={"platform": partial})


@pytest.mark.parametrize("project", ["data", "ml", "serving"])
def test_programs_read_the_platform_stack_of_their_own_stack(stack_runs, project):
    # and their own stack, for the release it runs (infra/release.py)
    assert set(stack_runs[(project, "staging")].mocks.stack_references) == {
        "organization/mlrig-platform/staging",
        f"organization/mlrig-{project}/staging",
    }


def test_the_platform_stack_name_can_be_overridden(run_project):
    run = run_project("serving", "dev", config={"platformStack": "acme/mlrig-platform/shared"})
    assert "acme/mlrig-platform/shared" in run.mocks.stack_references
    assert "organization/mlrig-platform/dev" not in run.mocks.stack_references


def test_platform_secrets_stay_secrets(stack_runs):
    run = stack_runs[("platform", "dev")]
    secrets = {d.name: d for d in run.mocks.of_type("core/v1:Secret")}
    assert set(secrets) == {"pii-key", "lake-store-credentials"}
    for secret in secrets.values():  # the whole stringData travels as a secret: encrypted in state
        assert secret.secret_paths == ("stringData",), secret.name
    assert secrets["pii-key"].inputs["stringData"]["MLRIG_PII_KEY"] == TEST_SECRETS["platform"]["piiKey"]


def test_platform_refuses_to_run_without_its_secrets(run_project):
    with pytest.raises(Exception, match="piiKey"):
        run_project("platform", "dev", secrets={})


def test_platform_namespace_has_a_quota_limits_and_default_deny(stack_runs):
    run = stack_runs[("platform", "dev")]
    ns = run.mocks.only(":Namespace").inputs["metadata"]
    assert ns["name"] == "mlrig-dev" and ns["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert run.mocks.only("ResourceQuota").inputs["spec"]["hard"]["limits.cpu"] == "6"
    assert run.mocks.only("LimitRange").inputs["metadata"]["namespace"] == "mlrig-dev"
    deny = [d for d in run.mocks.of_type("NetworkPolicy") if d.inputs["metadata"]["name"] == "default-deny"]
    assert deny[0].inputs["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_identities_may_read_only_their_named_secrets(stack_runs):
    run = stack_runs[("platform", "dev")]
    roles = {d.name: d.inputs["rules"] for d in run.mocks.of_type(":Role")}
    assert roles["mlrig-pipeline"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["lake-store-credentials", "pii-key"],
            "verbs": ["get"],
        }
    ]
    assert roles["mlrig-serving"][0]["resourceNames"] == ["lake-store-credentials", "pii-key"]
    for sa in run.mocks.of_type(":ServiceAccount"):
        assert sa.inputs["automountServiceAccountToken"] is False


def test_prod_platform_uses_the_existing_bucket_and_runs_no_store(stack_runs):
    run = stack_runs[("platform", "prod")]
    assert run.mocks.of_type("apps/v1:Deployment") == [] and run.mocks.of_type("PersistentVolumeClaim") == []
    assert run.exports[outputs.PLATFORM_LAKE_URL] == "s3://mlrig-prod-lake/lake"
    assert run.exports[outputs.PLATFORM_S3_ENDPOINT] == ""


def test_tuning_workers_run_only_when_a_study_database_is_set(run_project, stack_runs):
    without = run_project("ml", "prod", secrets={})
    assert without.mocks.of_type("batch/v1:Job") == [] and without.exports[outputs.ML_TUNING_JOB] == ""
    tuning = stack_runs[("ml", "prod")].mocks.only("batch/v1:Job")
    spec = tuning.inputs["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"] == 4
    env = spec["template"]["spec"]["containers"][0]["env"]
    storage = next(e for e in env if e["name"] == "OPTUNA_STORAGE")
    assert storage["valueFrom"]["secretKeyRef"] == {"name": "optuna-storage", "key": "OPTUNA_STORAGE"}
    study = stack_runs[("ml", "prod")].mocks.only("core/v1:Secret")
    assert study.secret_paths == ("stringData",)


def test_cd_sets_the_image_digest_which_wins_over_the_tag(run_project):
    digest = "sha256:" + "a" * 64
    run = run_project("serving", "prod", config={"imageDigest": digest})
    image = run.mocks.only("apps/v1:Deployment").inputs["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/mlrig/churn-scorer@{digest}"


@pytest.mark.parametrize(
    ("key", "value", "message"), [("imageTag", "latest", "latest"), ("imageDigest", "sha256:nope", "digest")]
)
def test_moving_or_malformed_images_are_refused(run_project, key, value, message):
    with pytest.raises(ValueError, match=message):
        run_project("data", "dev", config={key: value})


@pytest.mark.parametrize(("project", "stack"), RUNS)
def test_stack_files_hold_no_plaintext_secrets(project, stack):
    config = yaml.safe_load((INFRA_DIR / project / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert rules.plaintext_config_secrets(config) == []


def test_removing_a_containers_limits_breaks_the_unit_check_and_the_policy(run_project, monkeypatch):
    from infra.components import pod

    original = pod.container

    def without_limits(c: ContainerArgs) -> dict:
        spec = original(c)
        del spec["resources"]["limits"]
        return spec

    monkeypatch.setattr(pod, "container", without_limits)
    run = run_project("serving", "prod")
    with pytest.raises(AssertionError, match="has no limits"):
        assert_every_container_limited_and_non_root(run)
    deployment = run.mocks.only("apps/v1:Deployment")
    violations = rules.violations(rules.validate_limits_set, deployment.type, deployment.inputs)
    assert violations == ["container 'service': no limits for cpu, memory"]


@pytest.mark.parametrize(("stack", "in_cluster"), [("dev", True), ("prod", False)])
def test_platform_hands_the_lake_settings_to_its_clients_in_one_config_map(stack_runs, stack, in_cluster):
    run = stack_runs[("platform", stack)]
    data = run.mocks.only(":ConfigMap").inputs["data"]
    assert data["MLRIG_LAKE_URL"] == run.exports[outputs.PLATFORM_LAKE_URL]
    assert "MLRIG_MODELS_URL" not in data  # nothing reads it: every reader derives <lake>/models itself
    assert run.exports[outputs.PLATFORM_MODELS_URL] == models_url(run.exports[outputs.PLATFORM_LAKE_URL])
    assert data["MLRIG_RAW_URL"] == run.exports[outputs.PLATFORM_RAW_URL]  # drops reach every Job through the store
    assert ("AWS_ENDPOINT_URL" in data) is in_cluster  # a cloud bucket uses the cloud's own endpoint
    if in_cluster:
        assert data["AWS_ENDPOINT_URL"] == run.exports[outputs.PLATFORM_S3_ENDPOINT]
        assert data["AWS_ALLOW_HTTP"] == "true"


@pytest.mark.parametrize("project", ["data", "ml", "serving"])
def test_workloads_read_the_lake_settings_and_credentials_from_the_platform(stack_runs, project):
    stand_in = platform_outputs("dev")
    for where, spec in pod_specs(stack_runs[(project, "dev")]):
        container = spec["containers"][0]
        assert container["envFrom"] == [{"configMapRef": {"name": stand_in[outputs.PLATFORM_LAKE_SETTINGS]}}], where
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
        assert refs["AWS_SECRET_ACCESS_KEY"] == stand_in[outputs.PLATFORM_STORE_CREDENTIALS_SECRET], where
        if project in ("data", "serving"):  # refine pseudonymises with it; serving its logged request keys, alike
            assert refs["MLRIG_PII_KEY"] == stand_in[outputs.PLATFORM_PII_KEY_SECRET], where
        assert spec["serviceAccountName"] in (
            stand_in[outputs.PLATFORM_PIPELINE_SERVICE_ACCOUNT],
            stand_in[outputs.PLATFORM_SERVING_SERVICE_ACCOUNT],
        )


def test_the_pipeline_reads_its_lake_from_the_environment_the_platform_sets(monkeypatch):
    from pipelines.config import LAKE_URL_ENV

    monkeypatch.setenv(LAKE_URL_ENV, "s3://mlrig/lake")
    assert load_config(INFRA_DIR.parent / "mlrig.toml").lake_url == "s3://mlrig/lake"


def test_components_are_typed_mlrig_area_noun(stack_runs):
    components = {d.type for run in stack_runs.values() for d in run.mocks.declared if not d.is_kubernetes}
    assert components == {
        "mlrig:platform:SecureNamespace",
        "mlrig:platform:ObjectStore",
        "mlrig:platform:WorkloadIdentity",
        "mlrig:batch:HardenedJob",
        "mlrig:serving:ModelEndpoint",
        "mlrig:monitoring:GrafanaDashboard",
    }


@pytest.mark.parametrize("project", PROJECTS)
def test_each_program_reads_like_a_bill_of_materials(project):
    program = (INFRA_DIR / project / "__main__.py").read_text()
    assert program.startswith('"""') and len(program.splitlines()) <= 80


@pytest.mark.parametrize("stack", STACKS)
def test_ml_training_always_passes_the_gate_and_monitoring_retrains_on_demand(stack_runs, stack):
    """A scheduled training that only registered would never serve; the monitoring loop closes in the cluster."""
    cronjobs = {d.name: d.inputs["spec"] for d in stack_runs[("ml", stack)].mocks.of_type(":CronJob")}
    args = {
        name: spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
        for name, spec in cronjobs.items()
    }
    assert args == {"ml-train": ["retrain", "--force"], "ml-retrain": ["retrain"]}
    assert cronjobs["ml-retrain"]["schedule"] == "30 * * * *"
    assert stack_runs[("ml", stack)].exports[outputs.ML_RETRAIN_CRONJOB]


def _exported_metric_names() -> set[str]:
    """Every Prometheus series the service and the monitor export, with the suffixes the client adds."""
    import re

    sources = (INFRA_DIR.parent / "service" / "metrics.py", INFRA_DIR.parent / "pipelines" / "monitor" / "metrics.py")
    names = {m for path in sources for m in re.findall(r'"(mlrig_[a-z0-9_]+)"', path.read_text())}
    return {f"{n}{suffix}" for n in names for suffix in ("", "_total", "_bucket", "_count", "_sum")}


@pytest.mark.parametrize("stack", STACKS)
def test_serving_provisions_a_grafana_dashboard_of_metrics_that_exist(stack_runs, stack):
    import json
    import re

    config_map = next(
        d
        for d in stack_runs[("serving", stack)].mocks.of_type("core/v1:ConfigMap")
        if d.inputs["metadata"]["labels"].get("grafana_dashboard") == "1"
    )
    (dashboard_json,) = config_map.inputs["data"].values()
    queries = [t["expr"] for p in json.loads(dashboard_json)["panels"] for t in p["targets"]]
    used = {m for q in queries for m in re.findall(r"\bmlrig_[a-z0-9_]+", q)}
    assert used  # a dashboard that queries nothing would pass the next line
    unknown = used - _exported_metric_names()
    assert not unknown, f"the dashboard queries series nobody exports: {unknown}"


@pytest.mark.parametrize("project_file", sorted(INFRA_DIR.glob("*/Pulumi*.yaml")), ids=lambda p: str(p.parent.name))
def test_project_files_parse_as_the_engine_reads_them(project_file):
    """Mocks never read Pulumi.yaml; the engine does, and an unquoted `: ` in a description broke `pulumi up`."""
    document = yaml.safe_load(project_file.read_text())
    if project_file.name in ("Pulumi.yaml", "PulumiPolicy.yaml"):
        assert document["runtime"]["name"] == "python"
        assert isinstance(document.get("description", ""), str)
    else:
        assert isinstance(document["config"], dict)


@pytest.mark.parametrize("stack", STACKS)
def test_the_service_gets_its_api_keys_from_a_pulumi_secret(stack_runs, stack):
    """auth = "required": without keys the service refuses to start (service/guard.py), so every variant reads
    MLRIG_API_KEYS from the Secret the stack's `apiKeys` secret became, and the value stays a secret."""
    run = stack_runs[("serving", stack)]
    (secret,) = [d for d in run.mocks.of_type("core/v1:Secret") if d.name.endswith("-api-keys")]
    assert secret.inputs["stringData"][API_KEYS_ENV] == TEST_SECRETS["serving"]["apiKeys"]
    assert any(path.startswith("stringData") for path in secret.secret_paths)
    for d in _deployments(run):
        env = d.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
        (keys,) = [e for e in env if e["name"] == API_KEYS_ENV]
        assert keys["valueFrom"]["secretKeyRef"] == {"name": secret.inputs["metadata"]["name"], "key": API_KEYS_ENV}


def test_a_serving_stack_without_api_keys_is_refused_with_what_to_do():
    with pytest.raises(Exception, match="pulumi config set --secret apiKeys"):
        run_program("serving", "dev", secrets={})


@pytest.mark.parametrize("stack", STACKS)
def test_serving_at_its_maximum_leaves_the_store_and_a_job_room_in_the_quota(stack):
    """maxReplicas plus a rollout's surge pod, and still 2 CPU / 2Gi for the store and a Job."""
    serving, platform = stack_config("serving", stack), stack_config("platform", stack)
    settings = {k.split(":", 1)[1]: v for k, v in serving.items()}
    problem = quota_problem(
        max_replicas=int(settings["maxReplicas"]),
        sizing=Sizing(cpu_limit=settings["servingCpuLimit"], memory_limit=settings["servingMemoryLimit"]),
        quota_cpu=platform["mlrig-platform:quotaCpu"],
        quota_memory=platform["mlrig-platform:quotaMemory"],
        reserve=Reserve(),
    )
    assert problem is None, problem


def test_a_serving_stack_that_would_fill_the_quota_is_refused():
    with pytest.raises(Exception, match="exceeds the namespace quota 16"):
        run_program("serving", "staging", config={"maxReplicas": "20"})


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_in_the_monitoring_namespace_may_scrape_the_service(stack_runs, stack):
    run = stack_runs[("serving", stack)]
    (policy,) = [d for d in run.mocks.of_type("networking.k8s.io/v1:NetworkPolicy") if d.name.endswith("-ingress")]
    peers = policy.inputs["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in peers
    assert policy.inputs["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": SERVING_PORT}]


@pytest.mark.parametrize("stack", STACKS)
def test_tuning_workers_may_reach_their_study_database_and_nothing_else_is_opened(stack_runs, stack):
    """Under the namespace's default-deny the workers could not reach the study: they get egress to its port."""
    run = stack_runs[("ml", stack)]
    (policy,) = run.mocks.of_type("networking.k8s.io/v1:NetworkPolicy")
    assert policy.inputs["spec"]["podSelector"] == {"matchLabels": {"mlrig.io/stage": "tune"}}
    assert policy.inputs["spec"]["egress"] == [{"ports": [{"protocol": "TCP", "port": 5432}]}]
    (tuning,) = run.mocks.of_type("batch/v1:Job")
    assert tuning.inputs["spec"]["template"]["metadata"]["labels"]["mlrig.io/stage"] == "tune"


def test_a_study_url_without_a_known_port_is_refused_by_name():
    assert database_port("postgresql+psycopg://u:p@db:6543/optuna") == 6543
    assert database_port("mysql://u:p@db/optuna") == 3306
    with pytest.raises(ValueError, match="tuningDbUrl: cannot tell the database port"):
        database_port("redis://db/0")


def test_a_rollout_has_a_deadline_and_pods_drain_before_they_stop(stack_runs):
    """`pulumi up` fails within rolloutTimeoutSeconds when new pods never turn Ready (the old ones keep serving),
    and a stopping pod keeps answering while kube-proxy drops it from the Service."""
    run = run_program("serving", "dev", config={"rolloutTimeoutSeconds": "90"})
    (deployment,) = _deployments(run)
    assert deployment.inputs["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == "90"
    container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0


def test_every_volume_name_is_a_dns_label(stack_runs):
    """The API server refuses other names (kubernetes-validate's schema does not check them): `/home/app/.bentoml`
    once became `rw-home-app-.bentoml` and every serving `pulumi up` failed on a real cluster."""
    label = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    for run in stack_runs.values():
        for _, spec in pod_specs(run):
            for volume in spec.get("volumes", []):
                assert label.match(volume["name"]) and len(volume["name"]) <= 63, volume["name"]


@pytest.mark.parametrize("project", ["data", "ml"])
def test_the_jobs_command_exists_in_the_pipeline_image(stack_runs, project):
    """Jobs run their command[0] in the pipeline image, which copies the project as source (no console script):
    the Dockerfile must provide it. A real node found `exec: "mlrig": executable file not found in $PATH`."""
    dockerfile = (INFRA_DIR / "images" / "dockerfiles" / "pipeline.Dockerfile").read_text()
    for where, spec in pod_specs(stack_runs[(project, "dev")]):
        command = spec["containers"][0]["command"][0]
        assert f"/usr/local/bin/{command} " in dockerfile, where


def test_the_pipeline_images_cache_folders_are_ones_its_pods_may_write():
    """Root is read-only in every pod; a library's cache folder set by the image must lie in a writable emptyDir."""
    dockerfile = (INFRA_DIR / "images" / "dockerfiles" / "pipeline.Dockerfile").read_text()
    caches = dict(re.findall(r"\b(MPLCONFIGDIR|XDG_CACHE_HOME|XDG_CONFIG_HOME)=(\S+)", dockerfile))
    assert "MPLCONFIGDIR" in caches, "matplotlib would try ~/.config on the read-only root"
    writable = ContainerArgs.__dataclass_fields__["writable_paths"].default
    for name, path in caches.items():
        assert any(path == w or path.startswith(w.rstrip("/") + "/") for w in writable), f"{name}={path}"
