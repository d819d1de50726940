"""Build contexts: pins come from the installed environment, wheels from a cache keyed by the pins."""

from importlib.metadata import version
from pathlib import Path

import pytest

from infra.components.endpoint import ModelEndpointArgs
from infra.images.cache import CACHE_ENV, cache_key
from infra.images.context import pinned_closure, pipeline_packages, render_dockerfile, render_serving_dockerfile
from infra.images.errors import ImageError
from infra.images.layout import BENTOML_HOME
from infra.settings import default
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
    assert serving < set(pinned_closure(pipeline_packages()))


def test_a_package_that_is_not_installed_is_named():
    with pytest.raises(ImageError, match="no-such-package-mlrig is needed in the image but not installed"):
        pinned_closure(["no-such-package-mlrig"])


def test_the_serving_dockerfile_carries_the_bentos_envs(tmp_path: Path):
    text = render_serving_dockerfile(tmp_path, ["ENV MLRIG_CONFIG=mlrig.toml"], 3000).read_text()
    assert "ENV MLRIG_CONFIG=mlrig.toml" in text
    assert "{bento_envs}" not in text


def test_a_dockerfile_placeholder_without_a_value_is_refused(tmp_path: Path):
    with pytest.raises(ImageError, match="no value for port"):
        render_dockerfile("serving", tmp_path, bento_envs="")
    assert not (tmp_path / "Dockerfile").exists()


def test_the_serving_image_keeps_bentoml_home_where_the_deployment_makes_it_writable(tmp_path: Path):
    assert f"BENTOML_HOME={BENTOML_HOME} " in render_serving_dockerfile(tmp_path, [], 3000).read_text()
    assert BENTOML_HOME in default(ModelEndpointArgs, "writable_paths")


def test_cache_keys_change_with_the_pins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_key(["a==1"]) != cache_key(["a==2"])
    assert cache_key(["a==1"]) == cache_key(["a==1"])


def test_a_json_valued_env_becomes_one_quoted_dockerfile_line():
    import json

    from infra.images.context import dockerfile_env

    value = json.dumps({"champion": {"model": "churn-classifier:abc", "weight": 1.0, "shadow": False}})
    line = dockerfile_env("MLRIG_SERVING_VARIANTS", value)
    name, quoted = line.removeprefix("ENV ").split("=", 1)
    assert name == "MLRIG_SERVING_VARIANTS"
    assert quoted.startswith('"') and quoted.endswith('"')
    assert json.loads(json.loads(quoted)) == json.loads(value)  # the engine unquotes it back to the same JSON


def test_the_pipeline_image_installs_every_runtime_requirement_of_the_project():
    """Derived from pyproject.toml: a dependency added for a new stage (plotly, optuna…) reaches the Jobs' image."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    names = {Requirement(r).name for r in pipeline_packages()}
    project = {Requirement(r).name for r in requires("mlrig") if "extra ==" not in r}
    assert names == project - {"pulumi", "pulumi-kubernetes", "pulumi-policy", "docker"}
    assert {"plotly", "optuna", "shap", "python-stdnum"} <= names
