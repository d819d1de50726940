"""A production-like service: API keys required, two variants splitting traffic, a shadow, a prediction log.

Served from the project folder (`service.service:Scorer`) with a test copy of mlrig.toml that adds the variants,
so the Bento the session built stays as the demo ships it. One server per module.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.config import CONFIG_ENV, Config, load_config
from pipelines.ml.register import MODEL_FILE
from pipelines.ml.scorer import BOOSTER_FILE, SCORER_FILE
from service.guard import API_KEYS_ENV
from service.runner import start_background, stop_process, wait_ready
from tests.integration.conftest import free_port

API_KEY = "test-api-key-0123456789abcdef"
AUTH = {"authorization": f"Bearer {API_KEY}"}
WEIGHTS = {"a": 0.7, "b": 0.3}
FLUSH_ROWS = 50  # a batch of more rows lands at once; the remainder only on the shutdown flush (flush_s is long)


@dataclass
class Server:
    url: str
    config: Config
    tags: dict[str, str]
    process: object

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture(scope="module")
def variant_tags(built_workspace: Path, config: Config) -> dict[str, str]:
    """Two registered versions: the trained model and a second registration of it (the challenger)."""
    import bentoml

    champion = bentoml.models.get(f"{config.model.name}:latest")
    with bentoml.models.create(
        config.model.name, labels=champion.info.labels, metadata=champion.info.metadata
    ) as challenger:
        for artifact in (MODEL_FILE, BOOSTER_FILE, SCORER_FILE):  # the Pipeline and its serving scorer
            shutil.copy(champion.path_of(artifact), challenger.path_of(artifact))
    return {"a": str(champion.tag), "b": str(challenger.tag), "candidate": str(challenger.tag)}


@pytest.fixture(scope="module")
def ab_config(tmp_path_factory: pytest.TempPathFactory, config: Config, variant_tags: dict[str, str]) -> Path:
    text = config.source.read_text(encoding="utf-8")
    text = text.replace("\n[serving]\n", f"\n[serving]\nlog_flush_rows = {FLUSH_ROWS}\nlog_flush_s = 60\n", 1)
    for name, weight in WEIGHTS.items():
        text += f'\n[serving.variants.{name}]\nmodel = "{variant_tags[name]}"\nweight = {weight}\n'
    text += f'\n[serving.variants.candidate]\nmodel = "{variant_tags["candidate"]}"\nweight = 0\nshadow = true\n'
    path = tmp_path_factory.mktemp("ab-config") / "mlrig.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ab_server(built_workspace: Path, ab_config: Path, variant_tags: dict[str, str]) -> Iterator[Server]:
    port = free_port()
    log = built_workspace / "logs" / f"serve-ab-{port}.log"
    config = load_config(ab_config)
    env = {CONFIG_ENV: str(ab_config), API_KEYS_ENV: f"some-other-key-0123456789,{API_KEY}"}
    process = start_background(config, "127.0.0.1", port, log, env=env, target="service.service:Scorer")
    server = Server(f"http://127.0.0.1:{port}", config, variant_tags, process)
    try:
        wait_ready(server.url, process, log)
        yield server
    finally:
        server.stop()
