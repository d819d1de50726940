"""The `[release]` section: read from the project config, defaults when absent, bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import Config, ConfigError, ReleaseSettings, load_config


def test_the_project_config_sets_the_release_thresholds(config: Config) -> None:
    assert config.release.smoke_requests == 50
    assert config.release.p99_budget_ms == 250
    assert config.release.serving_project == Path("infra/serving")


def test_a_config_without_release_gets_the_defaults(config: Config, tmp_path: Path) -> None:
    source = config.source.read_text(encoding="utf-8")
    trimmed = tmp_path / "mlrig.toml"
    trimmed.write_text(source[: source.index("[release]")])
    assert load_config(trimmed).release == ReleaseSettings()


def test_a_non_positive_budget_is_refused_naming_the_key(config: Config, tmp_path: Path) -> None:
    source = config.source.read_text(encoding="utf-8")
    broken = tmp_path / "mlrig.toml"
    broken.write_text(source.replace("p99_budget_ms = 250", "p99_budget_ms = 0"))
    with pytest.raises(ConfigError, match=r"release\.p99_budget_ms"):
        load_config(broken)
