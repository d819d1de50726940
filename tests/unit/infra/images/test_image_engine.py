"""No engine reachable: the error says where we looked and how to start one, before any build starts."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.images import engine
from infra.images.errors import ImageError
from infra.images.registry import plain_http
from mlrig_cli.app import app


def test_unset_docker_host_without_a_local_socket_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(engine, "DEFAULT_SOCKET", tmp_path / "docker.sock")
    with pytest.raises(ImageError, match=r"DOCKER_HOST is unset and .*docker\.sock does not exist.*make images-setup"):
        engine.connect()


def test_a_dead_socket_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    dead = tmp_path / "gone.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{dead}")
    with pytest.raises(ImageError, match=f"no container engine answers at unix://{dead}"):
        engine.connect(timeout_s=2)


def test_the_cli_reports_a_dead_engine_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'gone.sock'}")
    result = CliRunner().invoke(app, ["image", "build", "serving"])
    assert result.exit_code == 1
    assert "image: no container engine answers at" in result.output
    assert "Traceback" not in result.output


def test_only_loopback_registries_are_spoken_to_over_plain_http():
    assert plain_http("127.0.0.1:5000")
    assert plain_http("localhost:5000/team")
    assert not plain_http("ghcr.io/mlrig")
