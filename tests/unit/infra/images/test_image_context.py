"""Build contexts: pins come from the installed environment, wheels from a cache keyed by the pins."""

from importlib.metadata import version
from pathlib import Path

import pytest

from infra.images.cache import CACHE_ENV, cache_key
from infra.images.context import PIPELINE_PACKAGES, pinned_closure, render_dockerfile
from infra.images.errors import ImageError
from service.package import RUNTIME_PACKAGES


def test_pins_are_the_installed_versions_with_their_dependencies():
    pins = pinned_closure(["bentoml"])
    assert f"bentoml=={version('bentoml')}" in pins
    assert f"starlette=={version('starlette')}" in pins  # a dependency, not named by us


def test_an_extra_brings_its_dependencies():
    assert any(pin.startswith("polars==") for pin in pinned_closure(["pandera[polars]"]))
    assert not any(pin.startswith("polars==") for pin in pinned_closure(["pandera"]))


def test_the_pipeline_ships_everything_the_service_does():
    serving = set(pinned_closure(RUNTIME_PACKAGES))
    assert serving < set(pinned_closure(PIPELINE_PACKAGES))


def test_a_package_that_is_not_installed_is_named():
    with pytest.raises(ImageError, match="no-such-package-mlrig is needed in the image but not installed"):
        pinned_closure(["no-such-package-mlrig"])


def test_the_serving_dockerfile_carries_the_bentos_envs(tmp_path: Path):
    render_dockerfile("serving", tmp_path, bento_envs="ENV MLRIG_CONFIG=mlrig.toml")
    text = (tmp_path / "Dockerfile").read_text()
    assert "ENV MLRIG_CONFIG=mlrig.toml" in text
    assert "{bento_envs}" not in text


def test_cache_keys_change_with_the_pins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_key(["a==1"]) != cache_key(["a==2"])
    assert cache_key(["a==1"]) == cache_key(["a==1"])
