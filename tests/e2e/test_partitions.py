"""Refine and features as parallel partitions of one Delta table, on the real node (issue 20).

The data stack's refine and features CronJobs are Indexed Jobs of `partitions` pods (2 on dev). Jobs made from
them, as shipped, run one pod per shard against the in-cluster lake (the object store's S3): both pods commit
to the same silver, quarantine and gold tables at once, and together they must equal what the drops hold, with
duplicates removed across drops. Features runs `--if-ready`: after a late drop, with refine not yet run, its
pods build nothing and say why.

The stacks are brought up by test_stacks.py's fixtures (imported, so this module deploys its own copy: module
scope), on the session's cluster and images from conftest.py.
"""

from __future__ import annotations  # noqa: I001 - tests.e2e.jobs is first-party once wt/node's branch is in

import datetime as dt
import json

import polars as pl
import pytest
from kubernetes import client

from pipelines.config import LAKE_URL_ENV, load_config
from pipelines.data.features import features_table_name
from pipelines.data.ingest import SOURCE_FILE, SOURCE_LINE
from pipelines.data.refine import SHARD
from pipelines.demo import generate_raw_drops_into
from pipelines.lake import Lake
from pipelines.lineage import LINEAGE_TABLE
from tests.e2e.jobs import run_job_from_cronjob
from tests.e2e import test_stacks as stacks
from tools.cluster import ClusterInfo

# test_stacks' module fixtures, registered here too: this module brings up (and destroys) its own deployment
store_volume, deployed, lake_env = stacks.store_volume, stacks.deployed, stacks.lake_env


def _pods(kube: client.ApiClient, ns: str, job: str) -> list[client.V1Pod]:
    return client.CoreV1Api(kube).list_namespaced_pod(ns, label_selector=f"job-name={job}").items


def test_refine_and_features_run_as_parallel_shards_of_one_table(
    deployed, kube: client.ApiClient, local_cluster: ClusterInfo, lake_env: dict
):
    partitions = int(stacks.stack_config("data")["partitions"])
    assert partitions >= 2, "the dev stack must run at least two partitions for this test to mean anything"
    ns = deployed.outputs["platform"]["namespace"]
    crons = deployed.outputs["data"]["cronJobs"]
    raw_url = deployed.outputs["platform"]["rawUrl"]
    cfg = load_config(stacks.ROOT / "mlrig.toml")
    labels = {f"{i}-of-{partitions}" for i in range(partitions)}

    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**lake_env, LAKE_URL_ENV: deployed.outputs["platform"]["lakeUrl"]}.items():
            patch.setenv(key, value)
        first = generate_raw_drops_into(cfg.contract, raw_url, rows=1500, days=1, seed=21)
        second = generate_raw_drops_into(cfg.contract, raw_url, rows=1500, days=1, seed=22, start=dt.date(2026, 11, 2))
        ingest = run_job_from_cronjob(kube, local_cluster, ns, crons["ingest"], "shards")
        assert ingest.succeeded, ingest

        refine = run_job_from_cronjob(kube, local_cluster, ns, crons["refine"], "shards")
        assert refine.succeeded and "Traceback" not in refine.log, refine
        pods = _pods(kube, ns, refine.name)
        indexes = {p.metadata.annotations["batch.kubernetes.io/job-completion-index"] for p in pods}
        assert indexes == {str(i) for i in range(partitions)}, refine  # one pod per shard, all succeeded

        lake = Lake(cfg.lake_url)
        silver = lake.table("silver", cfg.contract.dataset).read()
        assert set(silver[SHARD]) == labels
        expected = first.rows_written + second.rows_written - first.bad_rows - second.bad_rows
        expected -= first.duplicates + second.duplicates
        assert silver.height == expected  # every shard's rows, none twice
        assert silver.select(pl.struct(cfg.contract.duplicate_key).is_duplicated().any()).item() is False
        assert silver.select(pl.struct(SOURCE_FILE, SOURCE_LINE).is_unique().all()).item()
        runs = lake.table("lineage", LINEAGE_TABLE).read().filter(pl.col("stage") == "refine")
        assert {json.loads(i)["shard"] for i in runs["inputs"]} >= labels
        assert sum(json.loads(c)["bronze"] for c in runs["counts"]) == first.rows_written + second.rows_written

        features = run_job_from_cronjob(kube, local_cluster, ns, crons["features"], "shards")
        assert features.succeeded and "Traceback" not in features.log, features
        gold = lake.table("gold", features_table_name(cfg.contract))
        assert gold.read().height == silver.height and set(gold.read()[SHARD]) == labels
        assert features.said.count("gold feature rows") == partitions, features

        # a late drop, and features scheduled before refine has seen it: the pods build nothing and say why
        generate_raw_drops_into(cfg.contract, raw_url, rows=300, days=1, seed=23, start=dt.date(2026, 11, 3))
        assert run_job_from_cronjob(kube, local_cluster, ns, crons["ingest"], "late").succeeded
        version = gold.version()
        waiting = run_job_from_cronjob(kube, local_cluster, ns, crons["features"], "late")
        assert waiting.succeeded and waiting.said.count("not yet refined") == partitions, waiting
        assert gold.version() == version
