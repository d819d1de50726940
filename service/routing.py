"""A/B routing: which model variant answers a request, by configured weights, sticky per request key.

A request key (the `X-Request-Key` header, e.g. a customer id) is hashed onto [0, 1) and the variant whose
cumulative weight covers that point answers, so the same key always gets the same variant and keys spread
by weight. A request without a key is routed at random by the same weights. Shadow variants take no traffic:
the service scores them beside the routed variant and logs their answer without returning it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

from pipelines.config import Config, VariantSettings
from pipelines.ml.registry import serving_tag

# Set by `mlrig build` to the variants with their model tags resolved, so an image serves exactly what was
# built (an image never reads the lake's champion pointer, which moves on); overrides serving.variants when present.
VARIANTS_ENV = "MLRIG_SERVING_VARIANTS"
_HASH_SPACE = float(2**64)


def configured_variants(config: Config) -> dict[str, VariantSettings]:
    """serving.variants, or $MLRIG_SERVING_VARIANTS (JSON of the same shape) when set."""
    pinned = os.environ.get(VARIANTS_ENV)
    if not pinned:
        return dict(config.serving.variants)
    # Validated by the same rules as the config file (one live variant at least, shadows weightless).
    settings = type(config.serving).model_validate({**config.serving.model_dump(), "variants": json.loads(pinned)})
    return dict(settings.variants)


def resolved_tags(config: Config) -> dict[str, str]:
    """Each variant's model tag, with "champion" resolved through the registry's pointer."""
    return {
        name: serving_tag(config) if variant.model == "champion" else variant.model
        for name, variant in configured_variants(config).items()
    }


@dataclass(frozen=True)
class Router:
    """Chooses a live variant for a request key; built once from the configured weights."""

    names: tuple[str, ...]
    cumulative: tuple[float, ...]
    shadows: tuple[str, ...] = ()

    @classmethod
    def from_variants(cls, variants: dict[str, VariantSettings]) -> Router:
        live = {name: v.weight for name, v in variants.items() if not v.shadow and v.weight > 0}
        total = sum(live.values())
        return cls(
            names=tuple(live),
            cumulative=tuple(c / total for c in accumulate(live.values())),
            shadows=tuple(name for name, v in variants.items() if v.shadow),
        )

    def choose(self, request_key: str | None) -> str:
        if request_key is None:
            point = random.random()  # noqa: S311  # traffic splitting, not security
        else:
            digest = hashlib.blake2b(request_key.encode(), digest_size=8).digest()
            point = int.from_bytes(digest, "big") / _HASH_SPACE
        return self.names[min(bisect_right(self.cumulative, point), len(self.names) - 1)]
