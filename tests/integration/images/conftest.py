"""Image fixtures: the engine ($DOCKER_HOST, set up by `make images-setup`), both images built once per session
from the integration workspace's Bento, and a real local registry (Debian's docker-registry) on a free port."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from typer.testing import CliRunner

from infra.images.build import image_ref
from infra.images.engine import connect
from mlrig_cli.app import app
from pipelines.config import Config
from tests.conftest import explain
from tests.integration.conftest import free_port

TEST_TAG = "itest"  # tests build under their own tag, so a developer's <name>:<commit> images stay as they were


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    return connect()  # no engine is a failure here, never a skip: `make test` sets one up


def _build(kind: str) -> str:
    result = CliRunner().invoke(app, ["image", "build", kind, "--tag", TEST_TAG])
    assert result.exit_code == 0, f"mlrig image build {kind} failed:\n{explain(result)}"
    return result.output


@pytest.fixture(scope="session")
def serving_image(engine: docker.DockerClient, built_workspace: Path, config: Config) -> str:
    _build("serving")
    return image_ref(config, "serving", TEST_TAG)


@pytest.fixture(scope="session")
def pipeline_image(engine: docker.DockerClient, config: Config) -> str:
    _build("pipeline")
    return image_ref(config, "pipeline", TEST_TAG)


@pytest.fixture
def local_registry(tmp_path: Path) -> Iterator[str]:
    """Debian's docker-registry (the CNCF distribution registry) on 127.0.0.1:<free port>, plain HTTP."""
    binary = shutil.which("docker-registry")
    assert binary, "docker-registry is not installed: run `make images-setup`"
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: warn\n"
    )
    log = (tmp_path / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://{address}/v2/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail(f"docker-registry did not start:\n{(tmp_path / 'registry.log').read_text()}")
        yield address
    finally:
        process.terminate()
        process.wait(10)
        log.close()
