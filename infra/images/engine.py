"""Connects to the container engine named by $DOCKER_HOST (Docker, or Podman's Docker-API socket).

A missing or dead engine is the most common first failure, so it gets a message that says where we looked
and how to start one, instead of the SDK's connection traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import docker
from docker.errors import DockerException

from infra.images.errors import ImageError

DEFAULT_SOCKET = Path("/var/run/docker.sock")  # where the SDK looks when DOCKER_HOST is unset
CONNECT_TIMEOUT_S = 30  # a busy Podman service can take this long to answer a ping
# Builds and pushes stream nothing for minutes while a layer is installed or compressed: wait that long.
OPERATION_TIMEOUT_S = 1800
HOW_TO_START = (
    "Start an engine: `make images-setup` runs Podman's Docker-API service and prints the DOCKER_HOST to export "
    "(unix://<project>/.cache/images/podman.sock), or start Docker."
)


def connect(timeout_s: int = CONNECT_TIMEOUT_S) -> docker.DockerClient:
    """A client whose engine answered a ping; ImageError naming the address otherwise."""
    host = os.environ.get("DOCKER_HOST")
    if not host and not DEFAULT_SOCKET.exists():
        raise ImageError(
            f"no container engine: DOCKER_HOST is unset and {DEFAULT_SOCKET} does not exist. {HOW_TO_START}"
        )
    where = host or f"unix://{DEFAULT_SOCKET}"
    try:
        probe = docker.from_env(timeout=timeout_s)  # a short timeout only for "is anyone there?"
        probe.ping()
        probe.close()
    except DockerException as err:
        raise ImageError(f"no container engine answers at {where} (DOCKER_HOST): {err}. {HOW_TO_START}") from err
    return docker.from_env(timeout=OPERATION_TIMEOUT_S)


def is_podman(client: docker.DockerClient) -> bool:
    """Podman needs a few extra query parameters (plain-HTTP registries); Docker ignores them anyway."""
    components = client.version().get("Components") or []
    return any("podman" in str(c.get("Name", "")).lower() for c in components)
