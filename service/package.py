"""Package: the service, its code and the registered model → a Bento (the unit CD containerizes).

Python packages are pinned to the exact versions installed from uv.lock, so the image serves with what
training used. The generated Dockerfile lives at <bento>/env/docker/Dockerfile.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from pipelines.config import CONFIG_ENV, Config
from service.routing import VARIANTS_ENV, configured_variants, resolved_tags

SERVICE = "service.service:Scorer"
# What the service imports at run time: the model's libraries, the config reader and the lake writer.
RUNTIME_PACKAGES = [
    "bentoml",
    "scikit-learn",
    "lightgbm",
    "pandas",
    "numpy",
    "pydantic",
    "joblib",
    "polars",
    "deltalake",
    "polars-hash",
]
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def pinned_runtime_packages() -> list[str]:
    return [f"{name}=={version(name)}" for name in RUNTIME_PACKAGES]


def pinned_variants(config: Config) -> dict[str, dict]:
    """serving.variants with every model tag resolved ("champion", "latest") to the exact version built."""
    import bentoml

    tags = resolved_tags(config)
    return {
        name: {**variant.model_dump(), "model": str(bentoml.models.get(tags[name]).tag)}
        for name, variant in configured_variants(config).items()
    }


def build_bento(config: Config) -> str:
    """Build the Bento from the project folder and return its tag."""
    import bentoml
    from bentoml._internal.bento.build_config import BentoEnvSchema

    config_file = config.source.relative_to(PROJECT_ROOT) if config.source.is_relative_to(PROJECT_ROOT) else None
    if config_file is None:
        raise ValueError(
            f"{config.source} is outside the project folder {PROJECT_ROOT}; a Bento can only ship "
            "files inside it. Copy the config into the project folder."
        )
    bento = bentoml.bentos.build(
        SERVICE,
        name=config.serving.service_name,
        labels={"contract": config.contract.fingerprint, "dataset": config.contract.dataset},
        include=["pipelines/**/*.py", "service/**/*.py", str(config_file)],
        exclude=["tests/", ".mlrig/", ".venv/", ".cache/"],
        python={"packages": pinned_runtime_packages(), "lock_packages": False},
        envs=[
            BentoEnvSchema(name=CONFIG_ENV, value=str(config_file)),
            # The image's model store has no champion pointer: pin each variant to the tag resolved now.
            BentoEnvSchema(name=VARIANTS_ENV, value=json.dumps(pinned_variants(config))),
        ],
        build_ctx=str(PROJECT_ROOT),
    )
    return str(bento.tag)
