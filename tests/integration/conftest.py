"""Integration fixtures: the whole path built once per session, a real `bentoml serve` once per module."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import WORK_DIR_ENV, Config
from service.runner import DEMO_ENV, start_background, stop_process, wait_ready
from tests.conftest import TEST_PII_KEY

STAGES = (
    ["generate", "--rows", "3000", "--days", "2"],
    ["ingest"],
    ["refine"],
    ["features"],
    ["train"],
    ["build"],
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def built_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every stage, run through the CLI on demo data, into one temporary work folder."""
    work = tmp_path_factory.mktemp("workspace")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(WORK_DIR_ENV, str(work))
        patch.setenv("MLRIG_PII_KEY", TEST_PII_KEY)
        runner = CliRunner()
        for args in STAGES:
            result = runner.invoke(app, args)
            assert result.exit_code == 0, f"mlrig {' '.join(args)} failed:\n{result.output}"
        yield work


@pytest.fixture(scope="module")
def scorer_url(built_workspace: Path, config: Config) -> Iterator[str]:
    """The built Bento served by the real `bentoml serve` on a free 127.0.0.1 port, as the demo runs it
    (authentication off: tests/integration/service/ covers the keys)."""
    port = free_port()
    log = built_workspace / "logs" / f"serve-{port}.log"
    process = start_background(config, "127.0.0.1", port, log, env=DEMO_ENV)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log)
        yield url
    finally:
        stop_process(process)
