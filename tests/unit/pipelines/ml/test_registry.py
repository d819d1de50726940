"""The champion pointer lives in the lake: every store sharing the lake sees one champion, and imports it."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from pipelines import lake_files
from pipelines.config import LAKE_URL_ENV, WORK_DIR_ENV, Config
from pipelines.ml import registry
from pipelines.ml.register import exported_path, use_bentoml_home
from pipelines.ml.registry import MODEL_TAG_ENV, ChampionError
from tests.conftest import tiny_stored_model


@pytest.fixture
def shared_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One lake for several work folders, as S3 is for every pod; each work folder has its own model store."""
    lake = tmp_path / "shared-lake"
    monkeypatch.setenv(LAKE_URL_ENV, str(lake))
    monkeypatch.setenv("MLRIG_PII_KEY", "unused")
    return lake


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: Config, shared_lake: Path):
    """Switch this process to a machine (work folder + empty model store) sharing the lake: machine("pod")."""

    def switch(name: str) -> Path:
        work = tmp_path / name
        monkeypatch.setenv(WORK_DIR_ENV, str(work))
        use_bentoml_home(config.bentoml_home)
        return work

    switch("laptop")
    return switch


def test_serving_falls_back_to_latest_without_a_champion(machine, config):
    assert registry.champion_tag(config) is None
    assert registry.serving_tag(config) == f"{config.model.name}:latest"


def test_promotion_writes_pointer_and_model_to_the_lake_and_nothing_local(machine, config, shared_lake):
    tag = tiny_stored_model(config, "good")
    exported = registry.promote(config, tag, {"passed": True})
    pointer = json.loads((shared_lake / "models" / "champions.json").read_text())
    entry = pointer[config.model.name]
    assert entry["tag"] == tag and entry["verdict"] == {"passed": True} and entry["previous"] is None
    assert entry["model_url"] == exported == exported_path(config, tag) and Path(exported).is_file()
    assert not (config.bentoml_home / "champions.json").exists()  # one source of truth: the lake


def test_a_promotion_in_one_store_is_seen_and_imported_by_another_sharing_the_lake(machine, config):
    import bentoml

    tag = tiny_stored_model(config, "promoted on the laptop")
    registry.promote(config, tag)
    machine("pod")  # an empty model store, as a Kubernetes Job starts
    with pytest.raises(bentoml.exceptions.NotFound):
        bentoml.models.get(tag)
    assert registry.champion_tag(config) == registry.serving_tag(config) == tag
    assert registry.fetch_champion(config) == tag
    assert bentoml.models.get(tag).info.metadata["label"] == "promoted on the laptop"


def test_history_names_the_previous_champion_for_a_rollback(machine, config):
    first, second = tiny_stored_model(config, "first"), tiny_stored_model(config, "second")
    registry.promote(config, first, {"passed": True})
    registry.promote(config, second, {"passed": True, "champion_before": first})
    registry.promote(config, second, {"passed": True, "regated": True})  # re-gating refreshes, adds no history
    entry = registry.champion_entry(config)
    assert entry["tag"] == second and entry["verdict"]["regated"]
    assert registry.previous_champion(config) == first
    assert [step["tag"] for step in entry["history"]] == [first]
    assert entry["history"][0]["verdict"] == {"passed": True} and entry["history"][0]["promoted_at"]

    machine("pod")  # a rollback from another machine: the previous champion comes from the lake
    registry.promote(config, registry.previous_champion(config), {"rollback_of": second})
    assert registry.champion_tag(config) == first and registry.previous_champion(config) == second


def test_environment_pins_a_version_by_hand(machine, config, monkeypatch):
    registry.promote(config, tiny_stored_model(config, "champion"))
    monkeypatch.setenv(MODEL_TAG_ENV, f"{config.model.name}:pinned")
    assert registry.serving_tag(config) == f"{config.model.name}:pinned"


@pytest.mark.parametrize(
    "content",
    [b'{"churn-classifier": {"tag": "churn-classifier:ab', b'{"churn-classifier": "churn-classifier:abc"}', b"[]"],
    ids=["truncated", "wrong shape", "not an object"],
)
def test_an_unreadable_pointer_names_itself_and_what_to_do(machine, config, content):
    lake_files.write_bytes(registry.pointer_url(config), content)
    with pytest.raises(ChampionError, match=r"champions\.json is unreadable") as err:
        registry.champion_tag(config)
    assert "mlrig gate --tag" in str(err.value) and "restore" in str(err.value)


def test_a_failed_pointer_write_leaves_the_previous_pointer_whole(machine, config, monkeypatch):
    first = tiny_stored_model(config, "first")
    registry.promote(config, first)
    before = Path(registry.pointer_url(config)).read_bytes()

    rename = Path.replace

    def crash(self: Path, target: Path) -> Path:  # the model export renames too: only the pointer's rename fails
        if Path(target).name == "champions.json":
            raise OSError("disk gone mid-promotion")
        return rename(self, target)

    second = tiny_stored_model(config, "second")
    with monkeypatch.context() as patch:
        patch.setattr(Path, "replace", crash)
        with pytest.raises(ChampionError, match=r"cannot write the champion pointer .*mid-promotion"):
            registry.promote(config, second)
    assert Path(registry.pointer_url(config)).read_bytes() == before
    assert sorted(p.name for p in Path(registry.pointer_url(config)).parent.glob(".*.tmp")) == []


def test_readers_never_see_a_half_written_pointer(machine, config):
    url = registry.pointer_url(config)
    documents = [json.dumps({"n": n, "pad": "x" * 200_000}).encode() for n in range(2)]
    lake_files.write_bytes(url, documents[0])
    seen, torn, done = set(), [], threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                seen.add(json.loads(lake_files.read_bytes(url))["n"])
            except ValueError as err:  # a half-written file does not parse
                torn.append(err)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(200):
            lake_files.write_bytes(url, documents[n % 2])
    finally:
        done.set()
        reader.join()
    assert not torn and seen == {0, 1}


def test_a_champion_missing_from_the_lake_says_where_to_export_it(machine, config):
    tag = tiny_stored_model(config, "never exported")
    registry.promote(config, tag)
    Path(exported_path(config, tag)).unlink()
    machine("pod")
    with pytest.raises(ChampionError, match=f"mlrig export-model --tag {tag}"):
        registry.fetch_champion(config)


def test_reading_an_older_local_pointer_answers_from_it_and_never_writes_the_lake(machine, config, caplog):
    tag = tiny_stored_model(config, "promoted by an older mlrig")
    legacy = config.bentoml_home / "champions.json"
    legacy.write_text(json.dumps({config.model.name: {"tag": tag, "promoted_at": "2026-01-02T00:00:00+00:00"}}))
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        assert registry.champion_tag(config) == registry.fetch_champion(config) == tag
        assert registry.champion_entry(config)["promoted_at"] == "2026-01-02T00:00:00+00:00"
    assert "only this machine sees it" in caplog.text and "next promotion" in caplog.text
    assert legacy.is_file() and lake_files.read_bytes(registry.pointer_url(config)) is None  # nothing written
    assert not Path(exported_path(config, tag)).exists()


def test_the_next_promotion_moves_an_older_local_pointer_into_the_lakes_history(machine, config, caplog):
    old, new = tiny_stored_model(config, "promoted by an older mlrig"), tiny_stored_model(config, "gated today")
    legacy = config.bentoml_home / "champions.json"
    legacy.write_text(json.dumps({config.model.name: {"tag": old, "promoted_at": "2026-01-02T00:00:00+00:00"}}))
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        registry.promote(config, new)
    assert "now lives in the lake" in caplog.text and f"moved {old}" in caplog.text
    assert not legacy.exists() and legacy.with_name("champions.json.migrated").is_file()
    entry = registry.champion_entry(config)
    assert entry["tag"] == new and entry["previous"] == old
    assert entry["history"][0]["verdict"]["migrated_from"] == str(legacy)
    machine("pod")
    assert registry.fetch(config, old) == old  # the migration exported the old champion too: a rollback can reach it


def test_a_local_pointer_never_overrides_the_lakes(machine, config, caplog):
    in_lake, local = tiny_stored_model(config, "in the lake"), tiny_stored_model(config, "stale local")
    registry.promote(config, in_lake)
    legacy = config.bentoml_home / "champions.json"
    legacy.write_text(json.dumps({config.model.name: {"tag": local}}))
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        assert registry.champion_tag(config) == in_lake
    assert not caplog.text and legacy.is_file()  # a read neither warns nor touches the old file
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        registry.promote(config, in_lake)
    assert "nothing was taken" in caplog.text and not legacy.exists()
    assert registry.champion_tag(config) == in_lake
