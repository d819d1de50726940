"""The real engine against a real cluster: the tools build-tools.sh made, one cluster with a real node per
session, and the project's own images built from a freshly trained Bento and pushed to that cluster's registry.

The images keep their deployed names (`<images.registry>/<name>@sha256:…`): the node pulls `images.registry`
from the cluster's local registry (a mirror), so the stacks deploy exactly the references CD would give them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config
from typer.testing import CliRunner

from infra.images.build import LABEL_MODEL, image_ref
from infra.images.engine import connect
from mlrig_cli.app import app
from pipelines.config import WORK_DIR_ENV, Config, load_config
from tests.conftest import TEST_PII_KEY, explain
from tools import cluster, objstore
from tools.e2e_images import IMAGE_SOURCES, IMAGE_TAG, TRAINING, content_key, present
from tools.engine import PulumiEngine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def project_config() -> Config:
    return load_config(ROOT / "mlrig.toml")


@pytest.fixture(scope="session")
def tools_dir() -> Path:
    path = cluster.default_tools_dir()
    missing = [b for b in ("pulumi", "pulumi-language-python") if not (path / "bin" / b).is_file()]
    if missing:  # the cluster checks its own binaries
        pytest.fail(f"{path}/bin lacks {', '.join(missing)}: run `make tools` first (`make e2e-infra` does)")
    return path


@pytest.fixture(scope="session")
def local_cluster(
    tools_dir: Path, tmp_path_factory: pytest.TempPathFactory, project_config: Config
) -> Iterator[cluster.ClusterInfo]:
    mirror = project_config.images.registry.split("/", 1)[0]
    with cluster.local_cluster(tools_dir / "bin", tmp_path_factory.mktemp("cluster"), mirrors=(mirror,)) as info:
        yield info
    assert not cluster.leftover(tools_dir / "bin", info), "a cluster process outlived the cluster"
    assert not cluster.nodehost.leftovers(info.slot), "the node left host resources behind"


@pytest.fixture(scope="session")
def kube(local_cluster: cluster.ClusterInfo) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(local_cluster.kubeconfig))


@dataclass(frozen=True)
class Images:
    serving: str  # digest references, as the pods pull them
    pipeline: str
    object_store: str
    model_version: str  # the champion the serving image ships (its io.mlrig.model-version label)
    serving_local: str  # the engine's name for the serving image (to push it again under another tag)
    object_store_local: str


@pytest.fixture(scope="session")
def images(local_cluster: cluster.ClusterInfo, tools_dir: Path, project_config: Config, tmp_path_factory) -> Images:
    """Train on demo data (seeded, so the same sources give the same model), build the serving image from that
    Bento, the pipeline image and the object store's stand-in, each tagged by the hash of what it is made of and
    reused when the engine has it already; push all three to the cluster's registry."""
    engine = connect()
    tag = f"{IMAGE_TAG}-{content_key(ROOT, IMAGE_SOURCES, TRAINING)}"
    serving, pipeline = image_ref(project_config, "serving", tag), image_ref(project_config, "pipeline", tag)
    if not (present(engine, serving) and present(engine, pipeline)):
        work = tmp_path_factory.mktemp("train")
        runner = CliRunner()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(WORK_DIR_ENV, str(work))
            patch.setenv("MLRIG_PII_KEY", TEST_PII_KEY)
            # `mlrig build` packages a model the gate has not passed only when it is named (3,000 rows gate on noise)
            patch.setenv("MLRIG_MODEL_TAG", f"{project_config.model.name}:latest")
            for args in (*TRAINING, ["image", "build", "serving", "--tag", tag],
                         ["image", "build", "pipeline", "--tag", tag]):  # fmt: skip
                result = runner.invoke(app, args)
                assert result.exit_code == 0, f"mlrig {' '.join(args)} failed:\n{explain(result)}"
    store_tag = f"{IMAGE_TAG}-{content_key(ROOT, ('tools/objstore.py',), sorted(tools_dir.glob('objstore/*')))}"
    store = f"{objstore.IMAGE}:{store_tag}"
    if not present(engine, store):
        store = objstore.build_stand_in(engine, project_config, tools_dir, store_tag)
    deployed = project_config.images.registry
    return Images(
        serving=local_cluster.push(serving, as_repository=deployed),
        pipeline=local_cluster.push(pipeline, as_repository=deployed),
        object_store=local_cluster.push(store),
        model_version=engine.images.get(serving).labels[LABEL_MODEL],
        serving_local=serving,
        object_store_local=store,
    )


@pytest.fixture(scope="session")
def engine(
    tools_dir: Path, local_cluster: cluster.ClusterInfo, tmp_path_factory: pytest.TempPathFactory
) -> PulumiEngine:
    engine = PulumiEngine(
        tools_dir=tools_dir,
        state_dir=tmp_path_factory.mktemp("pulumi-state"),
        python=ROOT / ".venv" / "bin" / "python",
        passphrase=secrets.token_urlsafe(16),
        kubeconfig=local_cluster.kubeconfig,
        policy_pack=ROOT / "infra" / "policy",
    )
    engine.login()
    return engine


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
