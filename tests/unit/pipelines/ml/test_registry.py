from __future__ import annotations

from pipelines.ml.registry import MODEL_TAG_ENV, champion_tag, promote, serving_tag


def test_serving_falls_back_to_latest_without_a_champion(work_dir, config):
    assert champion_tag(config) is None
    assert serving_tag(config) == f"{config.model.name}:latest"


def test_promoted_model_is_served(work_dir, config):
    promote(config, f"{config.model.name}:abc", {"passed": True})
    promote(config, f"{config.model.name}:def")
    assert champion_tag(config) == serving_tag(config) == f"{config.model.name}:def"


def test_environment_pins_a_version_by_hand(work_dir, config, monkeypatch):
    promote(config, f"{config.model.name}:abc")
    monkeypatch.setenv(MODEL_TAG_ENV, f"{config.model.name}:pinned")
    assert serving_tag(config) == f"{config.model.name}:pinned"
