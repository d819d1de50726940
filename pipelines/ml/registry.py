"""Which registered model serves: the champion pointer, kept in the model store beside the models.

The gate promotes a model by writing this pointer; `mlrig build` packages the model it names; a Bento
carries exactly one model, so inside a Bento (a store without the pointer) `latest` is that model.
$MLRIG_MODEL_TAG overrides everything, for pinning a version by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import os

from pipelines.config import Config

MODEL_TAG_ENV = "MLRIG_MODEL_TAG"
CHAMPIONS_FILE = "champions.json"


def _pointer_path(config: Config):
    return config.bentoml_home / CHAMPIONS_FILE


def champion_tag(config: Config) -> str | None:
    path = _pointer_path(config)
    if not path.exists():
        return None
    entry = json.loads(path.read_text(encoding="utf-8")).get(config.model.name)
    return entry["tag"] if entry else None


def promote(config: Config, tag: str, verdict: dict | None = None) -> None:
    """Make `tag` the champion; written atomically so a reader never sees half a pointer."""
    path = _pointer_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    pointers = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    pointers[config.model.name] = {
        "tag": tag,
        "promoted_at": dt.datetime.now(dt.UTC).isoformat(),
        "verdict": verdict or {},
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(pointers, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def serving_tag(config: Config) -> str:
    """The model the service loads: $MLRIG_MODEL_TAG, else the champion, else the latest registered."""
    return os.environ.get(MODEL_TAG_ENV) or champion_tag(config) or f"{config.model.name}:latest"
