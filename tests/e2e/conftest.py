"""The real engine against a real control plane: the tools build-tools.sh made, one cluster per session."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from tools import cluster
from tools.engine import PulumiEngine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tools_dir() -> Path:
    path = cluster.default_tools_dir()
    missing = [b for b in ("pulumi", "pulumi-language-python") if not (path / "bin" / b).is_file()]
    if missing:  # the cluster checks its own binaries
        pytest.fail(f"{path}/bin lacks {', '.join(missing)}: run `make tools` first (`make e2e-infra` does)")
    return path


@pytest.fixture(scope="session")
def local_cluster(tools_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.ClusterInfo]:
    with cluster.local_cluster(tools_dir / "bin", tmp_path_factory.mktemp("cluster")) as info:
        yield info
    assert not cluster.leftover(tools_dir / "bin"), "a control-plane process outlived the cluster"


@pytest.fixture(scope="session")
def kube(local_cluster: cluster.ClusterInfo) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(local_cluster.kubeconfig))


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
