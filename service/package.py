"""Package: the service, its code and the registered model → a Bento (the unit CD containerizes).

Python packages are pinned to the exact versions installed from uv.lock, so the image serves with what
training used. The generated Dockerfile lives at <bento>/env/docker/Dockerfile.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
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
    "pyarrow",  # polars ↔ pandas for the model, and the prediction log's Delta writes, go through Arrow
    "uvloop",  # uvicorn inside `bentoml serve` picks these up: without them it parses HTTP in Python (h11)
    "httptools",
]
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = "mlrig.toml"  # the config's name inside a Bento, whatever it is called in the project


def pinned_runtime_packages() -> list[str]:
    return [f"{name}=={version(name)}" for name in RUNTIME_PACKAGES]


def pinned_variants(config: Config) -> dict[str, dict]:
    """serving.variants with every model tag resolved ("champion", "latest") to the exact version built.

    A model this store lacks is imported from the lake first, so CD on a fresh runner builds what the pointer names.
    """
    import bentoml

    from pipelines.ml.registry import fetch

    refuse_ungated(config)
    tags = resolved_tags(config)
    return {
        name: {**variant.model_dump(), "model": str(bentoml.models.get(fetch(config, tags[name])).tag)}
        for name, variant in configured_variants(config).items()
    }


def refuse_ungated(config: Config) -> None:
    """A variant that serves "the champion" needs one: without a model that passed the gate, the registry's
    fallback (`<model>:latest`) would ship whatever was trained last, a model the gate may have refused."""
    from pipelines.ml.registry import MODEL_TAG_ENV, ChampionError, champion_tag

    wants_champion = [name for name, v in configured_variants(config).items() if v.model == "champion"]
    if wants_champion and not os.environ.get(MODEL_TAG_ENV) and champion_tag(config) is None:
        raise ChampionError(
            f"no model has passed the gate, so there is no champion to package for variant(s) "
            f"{', '.join(wants_champion)}: run `mlrig gate` (it promotes a model that passes), or name a model "
            f"explicitly with ${MODEL_TAG_ENV}."
        )


def build_context(config: Config, into: Path) -> Path:
    """The Bento's sources in a folder of their own: the code, and the config as `mlrig.toml` beside it, wherever
    the user keeps theirs (a Bento ships only files inside its build context)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("pipelines", "service"):
        shutil.copytree(PROJECT_ROOT / package, into / package, ignore=ignore)
    shutil.copy(config.source, into / SHIPPED_CONFIG)
    return into


def build_bento(config: Config) -> str:
    """Build the Bento and return its tag."""
    import bentoml
    from bentoml._internal.bento.build_config import BentoEnvSchema

    # bentoml imports the service to inspect it, and the service reads the config at import: a process that
    # built before (a notebook, a test) must not hand it the previous config's module
    sys.modules.pop(SERVICE.split(":")[0], None)
    with tempfile.TemporaryDirectory(prefix="mlrig-bento-") as tmp:
        context = build_context(config, Path(tmp))
        bento = bentoml.bentos.build(
            SERVICE,
            name=config.serving.service_name,
            labels={"contract": config.contract.fingerprint, "dataset": config.contract.dataset},
            include=["pipelines/**/*.py", "service/**/*.py", SHIPPED_CONFIG],
            python={"packages": pinned_runtime_packages(), "lock_packages": False},
            envs=[
                BentoEnvSchema(name=CONFIG_ENV, value=SHIPPED_CONFIG),
                # The pointer in the lake moves with the next promotion: pin each variant to the tag resolved now.
                BentoEnvSchema(name=VARIANTS_ENV, value=json.dumps(pinned_variants(config))),
            ],
            build_ctx=str(context),
        )
    return str(bento.tag)
