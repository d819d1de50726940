"""Push to a real registry on 127.0.0.1 and pull back by digest: what CD does with ghcr.io."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from infra.images import registry
from infra.images.errors import ImageError
from mlrig_cli.app import app
from tests.conftest import explain
from tests.integration.conftest import free_port
from tests.integration.images.conftest import TEST_TAG

pytestmark = pytest.mark.integration


def test_push_then_pull_back_by_digest(engine, serving_image: str, local_registry: str):
    result = CliRunner().invoke(app, ["image", "push", "serving", "--tag", TEST_TAG, "--registry", local_registry])
    assert result.exit_code == 0, explain(result)
    reference = result.output.strip().splitlines()[-1]
    repository, digest = reference.split("@")
    assert repository == f"{local_registry}/{serving_image.split(':')[0]}"
    name = repository.split("/", 1)[1]
    manifest = httpx.get(
        f"http://{local_registry}/v2/{name}/manifests/{digest}",
        headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
        },
    )
    assert manifest.status_code == 200  # the registry holds it under that digest

    try:
        assert registry.pull(engine, reference) == engine.images.get(serving_image).id
    finally:  # the registry is gone after the test: drop its name from the engine (the image stays)
        engine.images.remove(f"{repository}:{TEST_TAG}")


def test_a_registry_that_is_not_there_fails_with_the_target_named(engine, serving_image: str):
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(ImageError, match=f"pushing {serving_image} to {dead}/"):
        registry.push(engine, serving_image, dead, TEST_TAG)
