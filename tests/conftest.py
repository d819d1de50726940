"""Fixtures shared by every test: the project's real config and contract, and isolated work folders.

Test data comes from the demo generator with a fixed seed, so renaming a column in mlrig.toml touches no test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import WORK_DIR_ENV, Config, Contract, load_config
from pipelines.demo import DirtReport, generate_raw_drops
from pipelines.lake import Lake

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_PII_KEY = "test-only-pii-key-0123456789abcdef"


def explain(result) -> str:
    """A CliRunner result's output and, when the command raised, its traceback: CliRunner keeps an exception out
    of the output, so a failed assertion showed an output that stopped mid-stage and no reason."""
    import traceback

    if result.exc_info is None or isinstance(result.exception, SystemExit):
        return result.output
    return result.output + "\n" + "".join(traceback.format_exception(*result.exc_info))


def tiny_stored_model(config: Config, label: str) -> str:
    """A real model in the current BentoML store, holding a tiny artifact: for tests of moving models between
    stores and the lake, which never load them (training one would only make those tests slow)."""
    import bentoml
    import joblib

    from pipelines.ml.register import MODEL_FILE

    with bentoml.models.create(config.model.name, metadata={"label": label}) as model:
        joblib.dump({"label": label}, model.path_of(MODEL_FILE))
    return str(model.tag)


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config(PROJECT_ROOT / "mlrig.toml")


@pytest.fixture(scope="session")
def contract(config: Config) -> Contract:
    return config.contract


@pytest.fixture
def work_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh work folder for this test: lake, raw drops and model store all land inside it."""
    monkeypatch.setenv(WORK_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("MLRIG_PII_KEY", TEST_PII_KEY)
    return tmp_path


@pytest.fixture
def lake(work_dir: Path, config: Config) -> Lake:
    return Lake(config.lake_url)


@pytest.fixture
def tiny_raw_drop(work_dir: Path, config: Config) -> DirtReport:
    """Demo drops with planted dirt (fixed seed): 600 records over 2 files."""
    return generate_raw_drops(config.contract, config.raw_dir, rows=600, days=2, seed=11, dirt_rate=0.05)
