"""Integration fixtures: the whole path built once per session, a real `bentoml serve` once per module, and an
S3-compatible server (moto) for the modules that put the lake on s3://."""

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
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.config import WORK_DIR_ENV, Config, load_config
from pipelines.lake import Lake
from pipelines.ml.registry import MODEL_TAG_ENV
from service.runner import DEMO_ENV, serving
from tests.conftest import TEST_PII_KEY, explain

STAGES = (
    ["generate", "--rows", "3000", "--days", "2"],
    ["ingest"],
    ["refine"],
    ["features"],
    ["train"],
    ["build"],  # of the model just trained, named by MLRIG_MODEL_TAG (built_workspace): no champion in the session
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def built_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every stage, run through the CLI on demo data, into one temporary work folder."""
    work = tmp_path_factory.mktemp("workspace")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(WORK_DIR_ENV, str(work))
        patch.setenv("MLRIG_PII_KEY", TEST_PII_KEY)
        runner = CliRunner()
        with pytest.MonkeyPatch.context() as setup_only:
            # Test setup: package the model just trained, ungated (the session's tests expect no champion; on 3,000
            # demo rows the slice-gap rule judges noise anyway); `mlrig build` packages an ungated model only when
            # named. Only for these stages: left set, it would pin every later test's model to "latest".
            setup_only.setenv(MODEL_TAG_ENV, f"{load_config().model.name}:latest")
            for args in STAGES:
                result = runner.invoke(app, args)
                assert result.exit_code == 0, f"mlrig {' '.join(args)} failed:\n{explain(result)}"
        yield work


@pytest.fixture(scope="module")
def scorer_url(built_workspace: Path, config: Config) -> Iterator[str]:
    """The built Bento served by the real `bentoml serve` on a free 127.0.0.1 port, as the demo runs it
    (authentication off: tests/integration/service/ covers the keys)."""
    port = free_port()
    log = built_workspace / "logs" / f"serve-{port}.log"
    with serving(config, port, log, env=DEMO_ENV) as url:
        yield url


BUCKET = "mlrig-lake"  # made empty by `s3_endpoint`; each test's lake is a prefix in it


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
