"""The image runner maps the port the image itself exposes (its rendered EXPOSE), not a number it assumes."""

from __future__ import annotations

import io

import docker
import pytest

from infra.images import run
from infra.images.errors import ImageError
from pipelines.config import Config


def _tiny_image(engine: docker.DockerClient, config: Config, expose: str, tag: str) -> str:
    """A two-line image on the project's base: builds in seconds, runs nothing."""
    dockerfile = f"FROM {config.images.base_image}\n{expose}\n".encode()
    image, _ = engine.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True)
    return image.tags[0]


def test_the_runner_reads_the_port_the_image_exposes(engine, config):
    image = _tiny_image(engine, config, "EXPOSE 8123", "localhost/mlrig-expose-test:one")
    try:
        assert run.exposed_port(engine, image) == 8123
    finally:
        engine.images.remove(image, force=True)


def test_an_image_exposing_no_port_is_refused_by_name(engine, config):
    image = _tiny_image(engine, config, "LABEL purpose=test", "localhost/mlrig-expose-test:none")
    try:
        with pytest.raises(ImageError, match="exposes no port"):
            run.exposed_port(engine, image)
    finally:
        engine.images.remove(image, force=True)
    with pytest.raises(ImageError, match="build it first"):
        run.exposed_port(engine, "localhost/mlrig-expose-test:never-built")
