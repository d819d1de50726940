"""`pulumi up` of the four projects, in order, with the real engine against a real API server (issue 11).

Each project is copied into a temporary workspace (so `pulumi config set` never touches the repo's stack files)
and brought up on `dev` with the policy pack on. Then the objects are read back with the Kubernetes client and
compared with what the stack config and mlrig.toml say they should be, a second preview must be empty, a bad
change and a broken stack reference must be refused, and `destroy` in reverse order must leave nothing behind.

The node is real (tools/cluster.py): the pods run the images conftest.py built from a freshly trained Bento and
pushed to the cluster's registry, by digest; the object store runs its stand-in image (tools/objstore.py) because
MinIO's cannot be pulled here. So the checks are about what the workloads do: the store serves S3, the service
answers through its Service with and without a key, the HPA reads CPU from metrics-server, Jobs run `mlrig`.
The store needs a bound volume and this cluster has no provisioner, so the test provisions one statically, as an
admin would, on the node's disk.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from kubernetes import client, dynamic
from kubernetes.dynamic.exceptions import NotFoundError

from infra.images.engine import connect
from infra.outputs import EXPORTS
from pipelines.config import LAKE_URL_ENV, load_config
from pipelines.contract import example_request
from pipelines.data.drops import generate_demo_drops
from pipelines.data.features import features_table_name
from pipelines.lake import Lake
from pipelines.lineage import LINEAGE_TABLE
from pipelines.ml.registry import champion_tag
from tests.e2e.conftest import Images
from tests.e2e.jobs import run_job_from_cronjob, run_pods
from tools.cluster import ClusterInfo
from tools.engine import PulumiEngine, PulumiError
from tools.objstore import create_store_volume

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ("platform", "data", "ml", "serving")  # dependency order: the platform first, destroyed last
STACK = "dev"
PV_NAME = "mlrig-e2e-store"
SERVING_REPLICAS = 2
STORE_PATH = "/var/lib/mlrig-e2e-store"  # on the node
API_KEY = secrets.token_hex(24)


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


def stack_config(project: str) -> dict[str, str]:
    """The repo's Pulumi.dev.yaml values for `project`, keys without their namespace."""
    raw = yaml.safe_load((ROOT / "infra" / project / f"Pulumi.{STACK}.yaml").read_text())["config"]
    return {key.split(":", 1)[1]: str(value) for key, value in raw.items()}


class Deployed:
    """The four stacks after `pulumi up`: their workspaces, outputs, secrets and every object they declared."""

    def __init__(self, engine: PulumiEngine, workspace: Path, images: Images) -> None:
        self.engine = engine
        self.workspace = workspace
        self.images = images
        self.secrets = {
            "storeAccessKey": secrets.token_hex(8),
            "storeSecretKey": secrets.token_hex(24),
            "piiKey": secrets.token_hex(24),
        }
        self.outputs: dict[str, dict] = {}
        self.up_seconds: dict[str, float] = {}
        self.destroyed = False

    def dir(self, project: str) -> Path:
        return self.workspace / project

    def up(self) -> None:
        for project in PROJECTS:
            shutil.copytree(ROOT / "infra" / project, self.dir(project), ignore=shutil.ignore_patterns("__pycache__"))
            self.engine(self.dir(project), "stack", "init", STACK, "--secrets-provider", "passphrase")
        for name, value in self.secrets.items():
            self.engine(self.dir("platform"), "config", "set", "--secret", name, value)
        for key in ("storeImage", "storeClientImage"):  # MinIO's image cannot be pulled here: its stand-in
            self.engine(self.dir("platform"), "config", "set", key, self.images.object_store)
        for project, ref in (("data", self.images.pipeline), ("ml", self.images.pipeline),
                             ("serving", self.images.serving)):  # fmt: skip
            self.engine(self.dir(project), "config", "set", "imageDigest", ref.split("@", 1)[1])
        self.engine(self.dir("serving"), "config", "set", "--secret", "apiKeys", API_KEY)
        self.engine(self.dir("serving"), "config", "set", "replicas", str(SERVING_REPLICAS))
        for project in PROJECTS:
            run = self.engine(
                self.dir(project), "up", "--yes", "--skip-preview", "--policy-pack", str(ROOT / "infra/policy")
            )
            self.up_seconds[project] = run.seconds
            self.outputs[project] = json.loads(self.engine(self.dir(project), "stack", "output", "--json").stdout)

    def objects(self, project: str) -> list[tuple[str, str, str | None, str]]:
        """(apiVersion, kind, namespace, name) of every Kubernetes object in the project's state."""
        state = json.loads(self.engine(self.dir(project), "stack", "export").stdout)
        found = []
        for resource in state["deployment"].get("resources", []):
            outputs = resource.get("outputs", {})
            if resource["type"].startswith("kubernetes:") and "kind" in outputs:
                meta = outputs["metadata"]
                found.append((outputs["apiVersion"], outputs["kind"], meta.get("namespace"), meta["name"]))
        return found

    def destroy(self) -> None:
        for project in reversed(PROJECTS):
            self.engine(self.dir(project), "destroy", "--yes", "--skip-preview")
        self.destroyed = True


@pytest.fixture(scope="module")
def store_volume(kube: client.ApiClient, local_cluster: ClusterInfo):
    uid = load_config(ROOT / "mlrig.toml").images.user_uid
    create_store_volume(kube, local_cluster, PV_NAME, STORE_PATH, uid, size="10Gi")
    yield PV_NAME
    client.CoreV1Api(kube).delete_persistent_volume(PV_NAME)


@pytest.fixture(scope="module")
def deployed(engine: PulumiEngine, store_volume: str, images: Images, tmp_path_factory: pytest.TempPathFactory):
    stacks = Deployed(engine, tmp_path_factory.mktemp("workspace"), images)
    stacks.up()
    yield stacks
    if not stacks.destroyed:  # a failed test before the destroy test: leave the cluster clean anyway
        for project in reversed(PROJECTS):
            engine(stacks.dir(project), "destroy", "--yes", "--skip-preview", check=False)
    timings = ROOT / ".cache" / "e2e" / "pulumi-timings.json"
    timings.parent.mkdir(parents=True, exist_ok=True)
    timings.write_text(
        json.dumps([{"command": " ".join(r.args), "seconds": round(r.seconds, 1)} for r in engine.history], indent=1)
    )


def test_every_stack_exports_what_its_readers_expect(deployed: Deployed):
    for project in PROJECTS:
        assert set(EXPORTS[project]) <= set(deployed.outputs[project]), project
    assert deployed.outputs["platform"]["namespace"] == stack_config("platform")["namespace"]


def test_the_platform_is_a_locked_down_namespace_with_its_store_running(deployed: Deployed, kube: client.ApiClient):
    core, apps, batch = client.CoreV1Api(kube), client.AppsV1Api(kube), client.BatchV1Api(kube)
    platform, config = deployed.outputs["platform"], stack_config("platform")
    ns = platform["namespace"]
    labels = core.read_namespace(ns).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    quota = core.list_namespaced_resource_quota(ns).items
    assert [q.spec.hard["limits.cpu"] for q in quota] == [config["quotaCpu"]]
    assert core.list_namespaced_limit_range(ns).items, "no LimitRange: containers without limits would be admitted"
    policies = client.NetworkingV1Api(kube).list_namespaced_network_policy(ns).items
    assert any(p.spec.pod_selector.match_labels is None and not p.spec.ingress for p in policies), "no default deny"

    pii = core.read_namespaced_secret(platform["piiKeySecret"], ns).data["MLRIG_PII_KEY"]
    assert base64.b64decode(pii).decode() == deployed.secrets["piiKey"]  # the Pulumi secret reached the cluster
    store = core.read_namespaced_secret(platform["storeCredentialsSecret"], ns).data
    assert base64.b64decode(store["AWS_SECRET_ACCESS_KEY"]).decode() == deployed.secrets["storeSecretKey"]

    assert apps.read_namespaced_deployment("lake-store", ns).status.available_replicas == 1
    assert core.read_namespaced_persistent_volume_claim("lake-store-data", ns).spec.volume_name == PV_NAME
    assert batch.read_namespaced_job("lake-store-make-bucket", ns).status.succeeded == 1
    lake = core.read_namespaced_config_map(platform["lakeSettingsConfigMap"], ns).data
    assert lake["MLRIG_LAKE_URL"] == platform["lakeUrl"]
    assert lake["AWS_ENDPOINT_URL"] == platform["s3Endpoint"]
    assert lake["MLRIG_RAW_URL"] == platform["rawUrl"]  # where the ingest Job reads drops


@pytest.mark.parametrize("project", ["data", "ml"])
def test_pipeline_cronjobs_are_wired_to_the_platform_and_the_pushed_image(
    deployed: Deployed, kube: client.ApiClient, project: str
):
    """Stack references resolved to the platform's real outputs; the CronJobs run the image we pushed, by digest."""
    batch = client.BatchV1Api(kube)
    platform, config = deployed.outputs["platform"], stack_config(project)
    ns = platform["namespace"]
    for name in cronjob_names(deployed, project):
        pod = batch.read_namespaced_cron_job(name, ns).spec.job_template.spec.template.spec
        assert pod.service_account_name == platform["pipelineServiceAccount"]
        (container,) = pod.containers
        assert container.image == deployed.images.pipeline
        assert [e.config_map_ref.name for e in container.env_from] == [platform["lakeSettingsConfigMap"]]
        secret_refs = {e.value_from.secret_key_ref.name for e in container.env if e.value_from}
        assert platform["storeCredentialsSecret"] in secret_refs
        assert container.resources.limits and container.security_context.run_as_non_root
    if project == "data":
        schedules = {batch.read_namespaced_cron_job(n, ns).spec.schedule for n in cronjob_names(deployed, "data")}
        assert schedules == {v for k, v in config.items() if k.endswith("Schedule")}


def cronjob_names(deployed: Deployed, project: str) -> list[str]:
    if project == "data":
        return list(deployed.outputs["data"]["cronJobs"].values())
    return [deployed.outputs["ml"]["trainCronJob"], deployed.outputs["ml"]["retrainCronJob"]]


@pytest.fixture(scope="module")
def lake_env(deployed: Deployed, local_cluster: ClusterInfo):
    """The environment a client on this host needs to read the in-cluster lake through its S3 API."""
    platform = deployed.outputs["platform"]
    store = platform["s3Endpoint"].removeprefix("http://").split(".", 1)[0]
    return {
        "AWS_ENDPOINT_URL": local_cluster.service_url(platform["namespace"], store, "s3"),
        "AWS_ACCESS_KEY_ID": deployed.secrets["storeAccessKey"],
        "AWS_SECRET_ACCESS_KEY": deployed.secrets["storeSecretKey"],
        "AWS_REGION": "us-east-1",
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
    }


def test_the_object_store_really_serves_s3_with_its_access_key_only(deployed: Deployed, lake_env: dict):
    """The bucket Job really made the bucket (a put/get round trip through the store's Service); a client with
    the right key but a missing object hears "not found", one with another access key is refused. (The stand-in
    checks the access key, not the signature: tools/go/objstore; MinIO checks both.)"""
    import pyarrow.fs as pafs

    endpoint = lake_env["AWS_ENDPOINT_URL"]
    bucket = deployed.outputs["platform"]["lakeUrl"].removeprefix("s3://").split("/", 1)[0]

    def store(access_key: str) -> pafs.S3FileSystem:
        return pafs.S3FileSystem(
            access_key=access_key, secret_key=lake_env["AWS_SECRET_ACCESS_KEY"], endpoint_override=endpoint,
            scheme="http", region="us-east-1",
        )  # fmt: skip

    fs = store(lake_env["AWS_ACCESS_KEY_ID"])
    with fs.open_output_stream(f"{bucket}/e2e/hello.txt") as out:
        out.write(b"hello from the host")
    with fs.open_input_stream(f"{bucket}/e2e/hello.txt") as back:
        assert back.read() == b"hello from the host"
    assert fs.get_file_info(f"{bucket}/e2e/missing.txt").type == pafs.FileType.NotFound
    # what S3 clients say on a refused key: AWS SDKs "AccessDenied" / Arrow "ACCESS_DENIED", HTTP 403 Forbidden
    with pytest.raises(OSError, match=r"(?i)\baccess[ _-]?denied\b|\bforbidden\b|\b403\b"):
        store("not-the-key").get_file_info(f"{bucket}/e2e/hello.txt")


def test_the_pipeline_jobs_write_the_lake_and_train_through_the_gate(
    deployed: Deployed, kube: client.ApiClient, local_cluster: ClusterInfo, lake_env: dict
):
    """Jobs made from the CronJobs, as shipped, run the pipeline image on the node. Ingest reads drops where the
    platform says they land (its `rawUrl`, in the store): with none there it fails saying so; with demo drops
    uploaded through S3 from this host the data Jobs carry them through the lake, which, read from here through
    S3, gains bronze/silver/gold versions and lineage. Training registers a model the gate promotes (20,000 demo
    rows: enough for the slice-gap rule to judge signal, not noise); the monitoring Job runs against that champion."""
    ns = deployed.outputs["platform"]["namespace"]
    crons = deployed.outputs["data"]["cronJobs"]
    # the schedules are real here: a scheduled run racing these Jobs would blur what each one wrote
    batch = client.BatchV1Api(kube)
    scheduled = [*crons.values(), *cronjob_names(deployed, "ml")]
    for name in scheduled:
        batch.patch_namespaced_cron_job(name, ns, {"spec": {"suspend": True}})
    try:
        run_pipeline_jobs(deployed, kube, local_cluster, lake_env, ns, crons)
    finally:
        for name in scheduled:
            batch.patch_namespaced_cron_job(name, ns, {"spec": {"suspend": False}})


def run_pipeline_jobs(
    deployed: Deployed, kube: client.ApiClient, local_cluster: ClusterInfo, lake_env: dict, ns: str, crons: dict
) -> None:
    raw_url = deployed.outputs["platform"]["rawUrl"]
    cfg = load_config(ROOT / "mlrig.toml")

    empty = run_job_from_cronjob(kube, local_cluster, ns, crons["ingest"], "empty")
    assert not empty.succeeded and f"drops in {raw_url}" in empty.said, empty

    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**lake_env, LAKE_URL_ENV: deployed.outputs["platform"]["lakeUrl"]}.items():
            patch.setenv(key, value)
        drops = generate_demo_drops(cfg.contract, raw_url, rows=20_000, days=1, seed=5)
        lake = Lake(cfg.lake_url)
        tables = [("bronze", cfg.contract.dataset), ("silver", cfg.contract.dataset),
                  ("gold", features_table_name(cfg.contract))]  # fmt: skip
        assert all(lake.table(*t).version() is None for t in tables), "the lake was not empty before the Jobs"

        runs = {}
        for stage in ("ingest", "refine", "features"):  # in dependency order, as their schedules space them
            runs[stage] = run_job_from_cronjob(kube, local_cluster, ns, crons[stage], "e2e")
            assert runs[stage].succeeded and "Traceback" not in runs[stage].log, runs[stage]
        assert f"ingest: {drops.rows_written} rows from 1 new file(s)" in runs["ingest"].said, runs["ingest"]
        for table in tables:
            assert lake.table(*table).version() is not None, f"{table} was not written"
        bronze = lake.table("bronze", cfg.contract.dataset).read()
        assert bronze.height == drops.rows_written  # every uploaded row, as received
        lineage = lake.table("lineage", LINEAGE_TABLE).read()
        assert {"ingest", "refine", "features"} <= set(lineage["stage"]), lineage

        train = run_job_from_cronjob(kube, local_cluster, ns, deployed.outputs["ml"]["trainCronJob"], "e2e")
        assert "Traceback" not in train.log, train
        promoted = re.search(r"retrain: (\S+) passed the gate and is the champion", train.said)
        assert promoted and train.succeeded, train
        assert champion_tag(cfg) == promoted.group(1)  # the pointer the service reads, in the store

    # the monitoring loop, as scheduled: drift and outcomes against the lake's champion, the gate if asked; it
    # reached the lake and the champion when it gives a verdict, or says nothing was served yet (no predictions table)
    monitoring = run_job_from_cronjob(kube, local_cluster, ns, deployed.outputs["ml"]["retrainCronJob"], "e2e")
    verdicts = r"retrain: not needed|passed the gate|the gate blocked|predictions/\S+ does not exist yet: serve"
    assert "no model" not in monitoring.said, monitoring  # it found the champion the training Job promoted
    assert re.search(verdicts, monitoring.said) and "Traceback" not in monitoring.log, monitoring


def test_the_service_answers_through_its_kubernetes_service(deployed: Deployed, local_cluster: ClusterInfo):
    """Pods Ready through their real probes; a prediction through the Service: 200 with the champion's model
    version with a valid key, 401 without, 4xx for a wrong body."""
    ns, service = deployed.outputs["platform"]["namespace"], deployed.outputs["serving"]["service"]
    url = local_cluster.service_url(ns, service, "http")
    record = example_request(load_config(ROOT / "mlrig.toml").contract)
    key = {"Authorization": f"Bearer {API_KEY}"}
    answer = httpx.post(f"{url}/score", json=record, headers=key, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_version"] == deployed.images.model_version
    assert httpx.post(f"{url}/score", json=record, timeout=30).status_code == 401
    bad = httpx.post(f"{url}/score", json={"not": "a record"}, headers=key, timeout=30)
    assert 400 <= bad.status_code < 500 and bad.status_code != 401, bad.text
    metrics = httpx.get(f"{url}/metrics", timeout=30)
    assert metrics.status_code == 200 and "mlrig" in metrics.text  # what a Prometheus scrape reads


SCRAPE = "import sys, urllib.request as u; r = u.urlopen(sys.argv[1], timeout=10); print(r.status, r.read().decode())"


def test_a_scraper_where_the_platform_says_reads_metrics_and_policy_enforcement_is_as_stated(
    deployed: Deployed, kube: client.ApiClient, local_cluster: ClusterInfo
):
    """Prometheus runs in the namespace the platform names (`monitoringNamespace`); a pod there fetches /metrics
    through the Service's DNS name, as a scrape would. The serving NetworkPolicy admits only that namespace (and
    the ingress controller's). Whether this node enforces NetworkPolicy is a stated property of the cluster
    (`ClusterInfo.enforces_network_policy`; its CNI bridge does not, tools/README.md says why no enforcing plugin
    runs here): a pod in another namespace is refused exactly when it says so, so the statement is checked."""
    core = client.CoreV1Api(kube)
    ns, service = deployed.outputs["platform"]["namespace"], deployed.outputs["serving"]["service"]
    _, port = local_cluster.service_address(ns, service)
    url = f"http://{service}.{ns}.svc.cluster.local:{port}/metrics"
    scraper_ns, outsider_ns = deployed.outputs["platform"]["monitoringNamespace"], "e2e-outsider"
    made = []
    for name in (scraper_ns, outsider_ns):
        try:
            core.read_namespace(name)
        except client.exceptions.ApiException:
            core.create_namespace({"metadata": {"name": name}})
            made.append(name)
        wait_for(f"ServiceAccount {name}/default", lambda n=name: bool(core.list_namespaced_service_account(n).items))
    record = example_request(load_config(ROOT / "mlrig.toml").contract)
    for _ in range(20):  # every pod (the Service picks at random) has scored something: its series exist
        httpx.post(f"{local_cluster.service_url(ns, service)}/score", json=record,
                   headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30).raise_for_status()  # fmt: skip
    pods = {"scraper": scraper_ns, "outsider": outsider_ns}
    try:
        ran = run_pods(kube, local_cluster, pods, deployed.images.pipeline, ["python", "-c", SCRAPE, url])
    finally:
        for name, pod_ns in pods.items():
            core.delete_namespaced_pod(name, pod_ns, grace_period_seconds=0)
        for name in made:
            core.delete_namespace(name)
    scrape = ran["scraper"]
    assert scrape.succeeded and scrape.said.startswith("200") and "mlrig_requests" in scrape.log, scrape
    outsider = ran["outsider"]
    assert outsider.succeeded is (not local_cluster.enforces_network_policy), outsider


def test_the_autoscaler_reads_real_cpu_from_metrics_server(deployed: Deployed, kube: client.ApiClient):
    ns = deployed.outputs["platform"]["namespace"]
    api = client.AutoscalingV2Api(kube)
    (hpa,) = api.list_namespaced_horizontal_pod_autoscaler(ns).items

    def current_cpu() -> int | None:
        metrics = api.read_namespaced_horizontal_pod_autoscaler(hpa.metadata.name, ns).status.current_metrics or []
        values = [m.resource.current.average_utilization for m in metrics if m.resource]
        return values[0] if values else None

    wait_for("the HPA to report a current CPU utilisation", lambda: current_cpu() is not None, timeout=180)
    assert 0 <= current_cpu() <= 1000


def test_the_serving_deployment_is_available_with_the_intended_spec(deployed: Deployed, kube: client.ApiClient):
    apps, core = client.AppsV1Api(kube), client.CoreV1Api(kube)
    platform, serving = deployed.outputs["platform"], deployed.outputs["serving"]
    ns, cfg = platform["namespace"], load_config(ROOT / "mlrig.toml")
    # one Deployment, named after the service, serves every variant pinned in the Bento (docs/architecture.md)
    assert serving["variants"] == list(cfg.serving.variants)
    deployment = apps.read_namespaced_deployment(serving["service"], ns)
    assert deployment.spec.replicas == SERVING_REPLICAS
    assert deployment.status.available_replicas == SERVING_REPLICAS  # rolled out, as `pulumi up` waited for
    pod = deployment.spec.template.spec
    assert pod.service_account_name == platform["servingServiceAccount"]
    (container,) = pod.containers
    assert container.image == deployed.images.serving
    assert container.readiness_probe.http_get.path == "/readyz"
    assert container.liveness_probe.http_get.path == "/livez"
    assert container.security_context.run_as_non_root and not container.security_context.allow_privilege_escalation
    secret_env = {e.name: e.value_from.secret_key_ref.name for e in container.env if e.value_from}
    assert secret_env["MLRIG_PII_KEY"] == platform["piiKeySecret"]  # logged request keys join silver's
    limits = container.resources.limits
    config = stack_config("serving")
    assert (limits["cpu"], limits["memory"]) == (config["servingCpuLimit"], config["servingMemoryLimit"])

    hpa = client.AutoscalingV2Api(kube).read_namespaced_horizontal_pod_autoscaler(deployment.metadata.name, ns)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (SERVING_REPLICAS, int(config["maxReplicas"]))
    assert client.PolicyV1Api(kube).read_namespaced_pod_disruption_budget(deployment.metadata.name, ns)
    service = core.read_namespaced_service(serving["service"], ns)
    endpoints = core.read_namespaced_endpoints(serving["service"], ns)
    assert service.spec.ports[0].target_port == cfg.serving.port
    assert sum(len(s.addresses or []) for s in endpoints.subsets or []) == SERVING_REPLICAS  # Ready by their probes
    dashboards = core.list_namespaced_config_map(ns, label_selector="grafana_dashboard=1").items
    assert [json.loads(next(iter(d.data.values())))["title"] for d in dashboards]


class Poller:
    """A client scoring through the Service in a loop (bounded: at most `limit` requests) while something rolls."""

    def __init__(self, url: str, limit: int = 5000) -> None:
        self.url, self.limit = url, limit
        self.outcomes: list[int | str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        record = example_request(load_config(ROOT / "mlrig.toml").contract)
        with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {API_KEY}"}) as http:
            while not self._stop.is_set() and len(self.outcomes) < self.limit:
                try:
                    self.outcomes.append(http.post(f"{self.url}/score", json=record).status_code)
                except httpx.HTTPError as err:
                    self.outcomes.append(type(err).__name__)
                time.sleep(0.05)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def failures(self) -> list[int | str]:
        return [o for o in self.outcomes if o != 200]


def serving_url(deployed: Deployed, cluster: ClusterInfo) -> str:
    return cluster.service_url(deployed.outputs["platform"]["namespace"], deployed.outputs["serving"]["service"])


def test_a_rolling_update_to_a_new_tag_drops_no_request(
    deployed: Deployed, local_cluster: ClusterInfo, kube: client.ApiClient
):
    cfg = load_config(ROOT / "mlrig.toml")
    local_cluster.push(deployed.images.serving_local, as_repository=cfg.images.registry, tag="e2e-2")
    serving = deployed.dir("serving")
    deployed.engine(serving, "config", "rm", "imageDigest")
    deployed.engine(serving, "config", "set", "imageTag", "e2e-2")
    with Poller(serving_url(deployed, local_cluster)) as poller:
        deployed.engine(serving, "up", "--yes", "--skip-preview")
        time.sleep(8)  # the old pods' drain (preStop) ends after `pulumi up` returns
    assert len(poller.outcomes) > 20, poller.outcomes
    assert poller.failures == [], f"{len(poller.failures)} of {len(poller.outcomes)} failed: {poller.failures[:20]}"
    ns = deployed.outputs["platform"]["namespace"]
    deployment = client.AppsV1Api(kube).read_namespaced_deployment(deployed.outputs["serving"]["service"], ns)
    assert deployment.spec.template.spec.containers[0].image.endswith(f"/{cfg.serving.service_name}:e2e-2")


def test_an_image_that_never_turns_ready_fails_the_up_and_the_old_pods_keep_serving(
    deployed: Deployed, local_cluster: ClusterInfo
):
    """The object store's image under the service's name: its pods never pass /readyz. `pulumi up` fails within
    the stack's rollout deadline, naming the Deployment, and every request meanwhile is still answered."""
    cfg = load_config(ROOT / "mlrig.toml")
    engine_images = connect().images
    engine_images.get(deployed.images.object_store_local).tag(cfg.serving.service_name, "never-ready")
    local_cluster.push(f"{cfg.serving.service_name}:never-ready", as_repository=cfg.images.registry, tag="never-ready")
    serving = deployed.dir("serving")
    deployed.engine(serving, "config", "set", "imageTag", "never-ready")
    deployed.engine(serving, "config", "set", "rolloutTimeoutSeconds", "60")
    try:
        with Poller(serving_url(deployed, local_cluster)) as poller, pytest.raises(PulumiError) as failed:
            deployed.engine(serving, "up", "--yes", "--skip-preview")
        output = failed.value.run.output
        assert "churn-scorer" in output and ("timed out" in output or "not ready" in output.lower()), output
        assert poller.outcomes and poller.failures == [], poller.failures[:20]
    finally:  # back to the good image, as `mlrig rollback` would
        deployed.engine(serving, "config", "set", "imageTag", "e2e-2")
        deployed.engine(serving, "config", "rm", "rolloutTimeoutSeconds")
        deployed.engine(serving, "up", "--yes", "--skip-preview")


def test_a_second_preview_shows_no_changes(deployed: Deployed):
    for project in PROJECTS:
        run = deployed.engine(deployed.dir(project), "preview", "--expect-no-changes", "--diff")
        assert "unchanged" in run.stdout, run.stdout


BAD_CHANGE = """
# A hand-written Deployment: `latest` image, no limits, root. The policy pack must stop it before it exists.
import pulumi_kubernetes as k8s  # noqa: E402

k8s.apps.v1.Deployment(
    "hand-made",
    metadata={"name": "hand-made", "namespace": platform.require(outputs.PLATFORM_NAMESPACE)},
    spec={
        "selector": {"matchLabels": {"app": "hand-made"}},
        "template": {
            "metadata": {"labels": {"app": "hand-made"}},
            "spec": {
                "containers": [
                    {"name": "app", "image": "busybox:latest", "env": [{"name": "DB_PASSWORD", "value": "hunter2"}]}
                ]
            },
        },
    },
)
"""


def test_the_policy_pack_stops_a_bad_change(deployed: Deployed, kube: client.ApiClient):
    bad = deployed.workspace / "serving-bad"
    shutil.copytree(deployed.dir("serving"), bad)
    with (bad / "__main__.py").open("a") as program:
        program.write(BAD_CHANGE)
    with pytest.raises(PulumiError) as refused:
        deployed.engine(bad, "preview", "--stack", STACK, "--policy-pack", str(ROOT / "infra/policy"))
    output = refused.value.run.output
    for policy in ("no-latest-tag", "limits-set", "non-root", "no-plaintext-secrets"):
        assert f"mandatory: {policy}" in output or f"[mandatory]  {policy}" in output, f"{policy}:\n{output}"
    apps = client.AppsV1Api(kube)
    names = [d.metadata.name for d in apps.list_namespaced_deployment(deployed.outputs["platform"]["namespace"]).items]
    assert "hand-made" not in names


def test_a_stack_reference_to_a_missing_output_fails_the_preview(deployed: Deployed):
    """Point serving at a stack that exists but is not a platform: `require_output` must fail, naming the output."""
    serving = deployed.dir("serving")
    deployed.engine(serving, "stack", "init", "broken", "--secrets-provider", "passphrase")
    try:
        deployed.engine(serving, "config", "set", "platformStack", f"organization/mlrig-data/{STACK}")
        deployed.engine(serving, "config", "set", "imageTag", stack_config("serving")["imageTag"])
        deployed.engine(serving, "config", "set", "--secret", "apiKeys", API_KEY)
        with pytest.raises(PulumiError) as broken:
            deployed.engine(serving, "preview")
        output = broken.value.run.output
        assert f"stack organization/mlrig-data/{STACK} has no output" in output, output
        assert "Point `platformStack` at the platform stack" in output, output
    finally:
        deployed.engine(serving, "stack", "rm", "broken", "--yes")
        deployed.engine(serving, "stack", "select", STACK)


def test_destroy_in_reverse_order_leaves_nothing_behind(
    deployed: Deployed, kube: client.ApiClient, local_cluster: ClusterInfo
):
    """No object in the API, and on the node no container, mount or network namespace of the stacks' pods."""
    objects = {project: deployed.objects(project) for project in PROJECTS}
    kinds = {kind for found in objects.values() for _, kind, _, _ in found}
    assert {"Namespace", "Deployment", "Job", "CronJob", "Service", "HorizontalPodAutoscaler"} <= kinds, kinds
    ns = deployed.outputs["platform"]["namespace"]
    uids = [p.metadata.uid for p in client.CoreV1Api(kube).list_namespaced_pod(ns).items]
    assert uids and local_cluster.node_leftovers(ns, uids), "the check sees nothing even while the pods run"
    deployed.destroy()
    api = dynamic.DynamicClient(kube)

    def gone(api_version: str, kind: str, namespace: str | None, name: str) -> bool:
        try:
            api.resources.get(api_version=api_version, kind=kind).get(name=name, namespace=namespace)
        except NotFoundError:
            return True
        return False

    for project, found in objects.items():
        for obj in found:
            wait_for(f"{project}: {obj} to be deleted", lambda o=obj: gone(*o), timeout=90)
    for project in PROJECTS:
        assert json.loads(deployed.engine(deployed.dir(project), "stack", "export").stdout)["deployment"].get(
            "resources"
        ) in (None, []), project
    try:
        wait_for("the node to drop the stacks' pods", lambda: not local_cluster.node_leftovers(ns, uids), timeout=90)
    except AssertionError as err:
        raise AssertionError(f"{err}; left: {local_cluster.node_leftovers(ns, uids)}") from None
