"""The serving image, for real: built from the Bento, served on 127.0.0.1, answering like the model in-process."""

from __future__ import annotations

import socket

import docker
import pytest
from typer.testing import CliRunner

from infra.images import run
from infra.images.build import LABEL_CONTRACT, LABEL_MODEL, git_commit
from infra.images.errors import ImageError
from mlrig_cli.app import app
from pipelines.config import Config
from tests.conftest import explain
from tests.integration.conftest import free_port
from tests.integration.images.conftest import TEST_TAG

pytestmark = pytest.mark.integration


def test_smoke_serves_the_bento_and_answers_like_the_model_in_process(serving_image: str):
    result = CliRunner().invoke(app, ["image", "smoke", "--tag", TEST_TAG])
    assert result.exit_code == 0, explain(result)
    assert "smoke: ready in" in result.output


def test_the_image_is_labelled_with_commit_model_and_contract(engine, serving_image: str, config: Config):
    labels = engine.images.get(serving_image).labels
    assert labels["org.opencontainers.image.revision"] == git_commit()
    assert labels[LABEL_CONTRACT] == config.contract.fingerprint
    assert labels[LABEL_MODEL].startswith(f"{config.model.name}:")
    assert labels["org.opencontainers.image.base.name"] == config.images.base_image


def test_the_service_runs_as_a_non_root_user_without_build_tools(engine, serving_image: str, config: Config):
    probe = "id -u; for tool in gcc cc make git pip apt-get; do command -v $tool || true; done; ls /wheels 2>&1; true"
    output = engine.containers.run(serving_image, ["sh", "-c", probe], remove=True).decode()
    assert output.splitlines()[0] == str(config.images.user_uid)
    found = [line for line in output.splitlines()[1:] if line.startswith("/")]
    assert found == ["/usr/bin/apt-get"]  # Debian's own; no compiler, make, git or pip
    assert "cannot access '/wheels'" in output  # the wheels stayed in the install stage


def test_a_port_in_use_is_named_before_anything_starts(engine, serving_image: str):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ImageError, match=f"port {port} on 127.0.0.1 is in use"):
            run.start_serving(engine, serving_image, port)


def test_a_container_that_never_turns_ready_is_reported_with_its_logs(engine, serving_image: str):
    stuck = ["sh", "-c", "echo loading forever; exec sleep 600"]  # sh: output at once, even on a busy machine
    container = run.start_serving(engine, serving_image, free_port(), command=stuck)
    try:
        with pytest.raises(ImageError, match=r"(?s)was not ready at .*/readyz after 5s.*loading forever"):
            run.wait_ready(container, f"http://127.0.0.1:{free_port()}", timeout_s=5)
    finally:
        run.stop(container)


def test_a_container_that_exits_is_reported_with_its_code_and_logs(engine, serving_image: str):
    crash = ["sh", "-c", "echo model file missing; exit 3"]
    container = run.start_serving(engine, serving_image, free_port(), command=crash)
    try:
        with pytest.raises(ImageError, match=r"(?s)exited with code 3 before it was ready.*model file missing"):
            run.wait_ready(container, "http://127.0.0.1:9", timeout_s=60)
    finally:
        run.stop(container)


def test_run_leaves_the_service_up_on_the_chosen_port(engine: docker.DockerClient, serving_image: str, monkeypatch):
    monkeypatch.setenv("MLRIG_API_KEYS", "test-key-for-the-container")  # `run` passes the service's keys through
    port = free_port()
    result = CliRunner().invoke(app, ["image", "run", "serving", "--tag", TEST_TAG, "--port", str(port)])
    assert result.exit_code == 0, explain(result)
    container_id = result.output.split("container ")[1].split(";")[0]
    container = engine.containers.get(container_id)
    try:
        assert run.httpx.get(f"http://127.0.0.1:{port}/livez", timeout=5).status_code == 200
    finally:
        run.stop(container)
