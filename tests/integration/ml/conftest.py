"""ML integration fixtures: gold built through the CLI once per module, and configs with chosen [gate] rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.config import WORK_DIR_ENV
from tests.conftest import PROJECT_ROOT, TEST_PII_KEY, explain


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result


@pytest.fixture(scope="module")
def gold_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """generate → ingest → refine → features, through the CLI, on 1,500 demo records."""
    work = tmp_path_factory.mktemp("ml-cli")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(WORK_DIR_ENV, str(work))
        patch.setenv("MLRIG_PII_KEY", TEST_PII_KEY)
        for args in (
            ["generate", "--rows", "1500", "--days", "2", "--seed", "3"],
            ["ingest"],
            ["refine"],
            ["features"],
        ):
            result = run(*args)
            assert result.exit_code == 0, explain(result)
        yield work


@pytest.fixture(scope="module")
def gate_config(tmp_path_factory: pytest.TempPathFactory):
    """Write the project config with some [gate] keys replaced; returns the file's path."""
    folder = tmp_path_factory.mktemp("configs")

    def write(name: str, **rules: str) -> Path:
        text = (PROJECT_ROOT / "mlrig.toml").read_text(encoding="utf-8")
        for key, value in rules.items():
            text, found = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
            assert found == 1, f"no `{key} = ` line in mlrig.toml"
        path = folder / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
