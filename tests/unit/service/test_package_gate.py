"""`mlrig build` packages the champion or nothing (issue 16, item 7): without a model that passed the gate, the
registry's `<model>:latest` fallback would ship what was trained last, whatever the gate said about it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.config import load_config
from pipelines.ml.registry import MODEL_TAG_ENV, ChampionError
from service.package import refuse_ungated


def test_no_champion_in_the_lake_means_no_bento(work_dir: Path) -> None:
    config = load_config()
    with pytest.raises(ChampionError, match="no model has passed the gate"):
        refuse_ungated(config)


def test_an_explicitly_named_model_is_packaged_without_a_champion(work_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv(MODEL_TAG_ENV, "churn-classifier:abc123")
    refuse_ungated(load_config())  # a person's explicit choice, not the fallback


def test_the_cli_says_so_and_fails(work_dir: Path) -> None:
    result = CliRunner().invoke(app, ["build"])
    assert result.exit_code == 1
    assert "no model has passed the gate" in result.output
    assert not (work_dir / "bentoml" / "bentos").exists() or not any((work_dir / "bentoml" / "bentos").iterdir())
