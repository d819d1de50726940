"""The lake on S3: every stage writes Delta tables into a real S3-compatible HTTP server (moto) on 127.0.0.1,
and each table reads back by version. Credentials come from the environment, as in a cluster."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipelines.data.features import build_gold, features_table_name
from pipelines.data.ingest import ingest
from pipelines.data.refine import refine
from pipelines.lake import Lake
from tests.conftest import TEST_PII_KEY

pytestmark = pytest.mark.integration
BUCKET = "mlrig-lake"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`moto_server` on a free port, with one empty bucket."""
    port = free_port()
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    process = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.put(f"{url}/{BUCKET}", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"moto_server did not start on {url}")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def s3_lake(s3_endpoint: str, work_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Lake:
    for name, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    return Lake(f"s3://{BUCKET}/{work_dir.name}")


def test_stages_write_versioned_tables_to_s3_and_read_them_back_by_version(s3_lake, tiny_raw_drop, config):
    contract = config.contract
    first = ingest(config.raw_dir, s3_lake, contract)
    refined = refine(s3_lake, contract, TEST_PII_KEY)
    gold = build_gold(s3_lake, contract)

    bronze = s3_lake.table("bronze", contract.dataset)
    assert bronze.uri.startswith("s3://") and bronze.read(first.bronze_version).height == tiny_raw_drop.rows_written
    assert s3_lake.table("silver", contract.dataset).read(refined.silver_version).height == refined.silver_rows
    features = s3_lake.table("gold", features_table_name(contract))
    assert features.read(gold.features_version).height == refined.silver_rows

    extra = config.raw_dir / "customers_2026-12-09.csv"
    extra.write_text("\n".join(tiny_raw_drop.files[0].read_text(encoding="utf-8").splitlines()[:6]) + "\n")
    second = ingest(config.raw_dir, s3_lake, contract)
    assert second.bronze_version == first.bronze_version + 1
    assert bronze.read().height == tiny_raw_drop.rows_written + 5
    assert bronze.read(first.bronze_version).height == tiny_raw_drop.rows_written  # time travel on S3
