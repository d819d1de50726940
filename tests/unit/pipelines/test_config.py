from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import CONFIG_ENV, ConfigError, load_config
from tests.conftest import PROJECT_ROOT


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mlrig.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _project_toml() -> str:
    return (PROJECT_ROOT / "mlrig.toml").read_text(encoding="utf-8")


def test_project_config_derives_features_and_pii(contract):
    assert contract.target not in contract.feature_names
    assert contract.entity_key not in contract.feature_names
    assert {c.name for c in contract.pii_columns} >= {"full_name", "email", "phone"}
    assert all(c.role != "feature" for c in contract.pii_columns)


def test_config_found_through_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CONFIG_ENV, str(_write(tmp_path, _project_toml())))
    assert load_config().source == tmp_path / "mlrig.toml"


def test_missing_config_says_how_to_point_at_one(tmp_path, monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    with pytest.raises(ConfigError, match=CONFIG_ENV):
        load_config(tmp_path / "nope.toml")


def test_invalid_toml_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[contract\n"))


def test_target_must_exist(tmp_path):
    text = _project_toml().replace('target = "churned"', 'target = "cancelled"')
    with pytest.raises(ConfigError, match="cancelled"):
        load_config(_write(tmp_path, text))


def test_category_without_allowed_values_is_refused(tmp_path):
    text = _project_toml().replace('allowed = ["basic", "standard", "premium"]\n', "")
    with pytest.raises(ConfigError, match="allowed"):
        load_config(_write(tmp_path, text))


def test_pii_column_cannot_be_a_feature(tmp_path):
    text = _project_toml().replace('role = "attribute"\npii = "drop"', 'role = "feature"\npii = "drop"', 1)
    with pytest.raises(ConfigError, match="PII column cannot be a model feature"):
        load_config(_write(tmp_path, text))


def test_unknown_key_is_refused(tmp_path):
    text = _project_toml().replace("[model]\n", "[model]\nlerning_rate = 0.1\n")
    with pytest.raises(ConfigError, match="lerning_rate"):
        load_config(_write(tmp_path, text))


def test_fingerprint_follows_the_contract(tmp_path, contract):
    same = load_config(_write(tmp_path, _project_toml()))
    assert same.contract.fingerprint == contract.fingerprint
    changed = load_config(_write(tmp_path, _project_toml().replace("max = 600\n", "max = 601\n", 1)))
    assert changed.contract.fingerprint != contract.fingerprint


def test_work_dir_is_relative_to_the_config_file(tmp_path, monkeypatch):
    monkeypatch.delenv("MLRIG_WORK_DIR", raising=False)
    cfg = load_config(_write(tmp_path, _project_toml()))
    assert cfg.work_dir == (tmp_path / ".mlrig").resolve()
    assert cfg.lake_url == str(cfg.work_dir / "lake")


def test_business_settings_must_name_contract_columns(tmp_path):
    text = _project_toml().replace('segment_by = ["country", "plan"]', 'segment_by = ["country", "region"]')
    with pytest.raises(ConfigError, match="region"):
        load_config(_write(tmp_path, text))


def test_an_older_configs_image_config_key_is_accepted_only_as_the_fixed_key(tmp_path):
    older = _project_toml().replace("[release]\n", '[release]\nimage_config_key = "imageTag"\n', 1)
    assert load_config(_write(tmp_path, older)).release.serving_project  # the old default: a no-op
    moved = _project_toml().replace("[release]\n", '[release]\nimage_config_key = "myTag"\n', 1)
    with pytest.raises(ConfigError, match="image_config_key is no longer a setting"):
        load_config(_write(tmp_path, moved))
