from __future__ import annotations

import json
from collections import Counter

import pytest

from pipelines.config import ConfigError, VariantSettings, load_config
from service.routing import VARIANTS_ENV, Router, configured_variants, resolved_tags

KEYS = 20_000


def router(**weights: float) -> Router:
    return Router.from_variants({name: VariantSettings(weight=w) for name, w in weights.items()})


@pytest.mark.parametrize("weights", [{"a": 0.5, "b": 0.5}, {"a": 0.9, "b": 0.1}, {"a": 2, "b": 1, "c": 1}])
def test_keys_spread_by_weight_within_tolerance(weights):
    split = router(**weights)
    seen = Counter(split.choose(f"customer-{i}") for i in range(KEYS))
    total = sum(weights.values())
    for name, weight in weights.items():
        share = weight / total
        # 4 binomial standard deviations: a wrong split fails, the hash's noise never does
        assert seen[name] / KEYS == pytest.approx(share, abs=4 * (share * (1 - share) / KEYS) ** 0.5)


def test_same_key_always_gets_the_same_variant():
    split = router(a=0.5, b=0.5)
    for i in range(200):
        key = f"customer-{i}"
        assert len({split.choose(key) for _ in range(5)}) == 1
    assert split.choose("customer-1") == router(a=0.5, b=0.5).choose("customer-1")  # across processes too


def test_requests_without_a_key_split_by_weight():
    seen = Counter(router(a=0.8, b=0.2).choose(None) for _ in range(KEYS))
    assert seen["b"] / KEYS == pytest.approx(0.2, abs=0.02)


def test_shadows_and_zero_weights_take_no_traffic():
    split = Router.from_variants(
        {"a": VariantSettings(), "off": VariantSettings(weight=0), "s": VariantSettings(weight=0, shadow=True)}
    )
    assert split.names == ("a",)
    assert split.shadows == ("s",)
    assert {split.choose(f"k{i}") for i in range(500)} == {"a"}


def test_default_is_one_champion_variant(config):
    assert configured_variants(config) == {"champion": VariantSettings()}


def test_pinned_variants_from_the_environment_override_the_config(config, monkeypatch):
    monkeypatch.setenv(VARIANTS_ENV, json.dumps({"x": {"model": "m:1", "weight": 1}}))
    assert resolved_tags(config) == {"x": "m:1"}


def test_pinned_variants_are_validated_like_the_config(config, monkeypatch):
    monkeypatch.setenv(VARIANTS_ENV, json.dumps({"x": {"model": "m:1", "weight": 0}}))
    with pytest.raises(ValueError, match="at least one variant"):
        configured_variants(config)


@pytest.mark.parametrize(
    ("variants", "says"),
    [
        ("[serving.variants.a]\nweight = 0\n", "at least one variant"),
        ("[serving.variants.a]\n[serving.variants.s]\nshadow = true\nweight = 1\n", "shadow"),
        ('[serving.variants."a-b"]\n', "identifier"),
    ],
)
def test_bad_variant_config_names_the_key(config, tmp_path, variants, says):
    path = tmp_path / "mlrig.toml"
    path.write_text(config.source.read_text(encoding="utf-8") + "\n" + variants, encoding="utf-8")
    with pytest.raises(ConfigError, match=says):
        load_config(path)
