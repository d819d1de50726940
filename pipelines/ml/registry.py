"""Which registered model serves: the champion pointer, kept in the lake so every job on every machine sees one.

`<lake>/models/champions.json` names each model's champion, when and why it was promoted, and the champions before
it (newest first), so a rollback can name the previous one. Promoting exports the model beside it
(`<lake>/models/<name>/<version>.bentomodel`) before the pointer moves, so the pointer never names a model another
job cannot import. A job that starts with an empty model store (a Kubernetes pod, a fresh CI runner) calls
`fetch_champion` / `fetch_serving` to import the champion before it gates, monitors or builds against it.

There is no local copy of the pointer: a cache in one store goes stale the moment a job elsewhere promotes, which is
exactly the bug this module exists to prevent; reading a small JSON file is cheap. Stores written by older versions
kept the pointer in `<bentoml_home>/champions.json`. Reading never writes (a read-only pod, a CI job with read
credentials, `mlrig champion` must not change the lake): while the lake names no champion for this model, reads
answer from that old file and warn; the next promotion (`mlrig gate`, `mlrig champion --rollback`) moves it.
A Bento never reads the pointer: `mlrig build` pins the exact tags it packaged. $MLRIG_MODEL_TAG overrides
everything, for pinning a version by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket

from pipelines import lake_files
from pipelines.config import Config
from pipelines.ml.register import export_model, import_model

MODEL_TAG_ENV = "MLRIG_MODEL_TAG"
POINTER_FILE = "champions.json"
HISTORY_KEPT = 100  # earlier champions listed in the pointer; each model's own metadata keeps its full gate verdict

logger = logging.getLogger(__name__)
_REACH = "Check that the lake URL is right and writable, and for s3:// the AWS_* settings in the environment."


class ChampionError(ValueError):
    """The champion pointer cannot be read, or names a model no store can get; the message says what to do."""


def pointer_url(config: Config) -> str:
    return f"{config.models_url}/{POINTER_FILE}"


def _read(config: Config) -> dict[str, dict]:
    url = pointer_url(config)
    try:
        raw = lake_files.read_bytes(url)
    except OSError as err:  # not "missing" (that is None): the lake itself cannot be reached
        raise ChampionError(f"cannot read the champion pointer {url}: {err}. {_REACH}") from err
    if raw is None:
        return {}
    try:
        pointers = json.loads(raw)
        if not isinstance(pointers, dict) or not all(isinstance(e.get("tag"), str) for e in pointers.values()):
            raise ValueError("expected {model name: {tag, promoted_at, verdict, history}}")
    except (ValueError, AttributeError) as err:
        raise ChampionError(
            f"the champion pointer {url} is unreadable ({err}). mlrig replaces it whole, so something else changed "
            "it: restore the previous object (bucket versioning, a backup), or delete it and run "
            "`mlrig gate --tag <name:version that should serve>` to write it again (its history is then lost)."
        ) from err
    return pointers


def _write(config: Config, pointers: dict[str, dict]) -> None:
    url = pointer_url(config)
    try:
        lake_files.write_bytes(url, json.dumps(pointers, indent=2, sort_keys=True).encode("utf-8"))
    except OSError as err:
        raise ChampionError(f"cannot write the champion pointer {url}: {err}. {_REACH}") from err


def champion_entry(config: Config) -> dict | None:
    """The pointer's entry for this project's model: tag, promoted_at, promoted_by, verdict, previous, history.

    Read-only: an older store's local pointer is answered from, never moved (see the module's docstring).
    """
    entry = _read(config).get(config.model.name)
    if entry is not None:
        return entry
    legacy = _legacy_pointers(config).get(config.model.name)
    if legacy is not None:
        logger.warning(
            "registry: %s names the champion %s, but the lake (%s) does not: only this machine sees it. "
            "The next promotion (`mlrig gate`, `mlrig champion --rollback`) moves it to the lake.",
            config.bentoml_home / POINTER_FILE,
            legacy["tag"],
            pointer_url(config),
        )
    return legacy


def champion_tag(config: Config) -> str | None:
    entry = champion_entry(config)
    return entry["tag"] if entry else None


def previous_champion(config: Config) -> str | None:
    """The champion before the current one: what a rollback goes back to."""
    entry = champion_entry(config)
    return entry.get("previous") if entry else None


def promote(config: Config, tag: str, verdict: dict | None = None) -> str:
    """Make `tag` the champion: export it to the lake, then move the pointer (one atomic write); return the export.

    Two promotions at the same instant (the nightly training and an hourly retrain): the later write wins the
    pointer and its history lacks the other, whose verdict stays in its own model's metadata.
    """
    migrate_local_pointer(config)  # before the move, so the old champion becomes the history, not lost
    _, exported = export_model(config, fetch(config, tag))
    _record(config, tag, verdict or {}, dt.datetime.now(dt.UTC).isoformat(), exported)
    return exported


def _record(
    config: Config, tag: str, verdict: dict, promoted_at: str, exported: str | None, name: str | None = None
) -> None:
    name = name or config.model.name
    pointers = _read(config)
    before = pointers.get(name)
    history: list[dict] = before.get("history", []) if before else []
    if before and before["tag"] != tag:  # re-gating the champion refreshes its verdict, not the history
        history = [{k: v for k, v in before.items() if k not in ("history", "previous")}, *history]
    pointers[name] = {
        "tag": tag,
        "promoted_at": promoted_at,
        "promoted_by": socket.gethostname(),  # in a cluster, the pod's name
        "verdict": verdict,
        "model_url": exported,
        "previous": history[0]["tag"] if history else None,
        "history": history[:HISTORY_KEPT],
    }
    _write(config, pointers)


def fetch(config: Config, tag: str) -> str:
    """`tag` in this store, imported from the lake if it is missing here; `name:latest` is never looked up there."""
    if tag.endswith(":latest") or ":" not in tag:
        return tag
    try:
        return import_model(config, tag)
    except FileNotFoundError as err:
        raise ChampionError(f"{tag} is not in this model store ({config.bentoml_home}) and {err}") from err


def fetch_champion(config: Config) -> str | None:
    """The champion's tag with its model in this store (imported from the lake if needed); None without one."""
    tag = champion_tag(config)
    return fetch(config, tag) if tag else None


def serving_tag(config: Config) -> str:
    """The model the service loads: $MLRIG_MODEL_TAG, else the champion, else the latest registered."""
    return os.environ.get(MODEL_TAG_ENV) or champion_tag(config) or f"{config.model.name}:latest"


def fetch_serving(config: Config) -> str:
    """`serving_tag`, with that model in this store: what monitoring and `mlrig build` need on a fresh machine."""
    return fetch(config, serving_tag(config))


def _legacy_pointers(config: Config) -> dict[str, dict]:
    """The pointer an older mlrig kept in the model store, if any; an unreadable one counts as none."""
    legacy = config.bentoml_home / POINTER_FILE
    try:
        old = json.loads(legacy.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(old, dict):
        return {}
    return {n: e for n, e in old.items() if isinstance(e, dict) and isinstance(e.get("tag"), str)}


def migrate_local_pointer(config: Config) -> list[str]:
    """Move a pointer left in the model store by an older mlrig into the lake, once, and say so; return what moved.

    A write: called by `promote`, never by a read. The lake's own entries always win over the old file's.
    """
    import bentoml

    legacy = config.bentoml_home / POINTER_FILE
    if not legacy.is_file():
        return []
    pointers, moved = _read(config), []
    for name, entry in _legacy_pointers(config).items():
        if name in pointers:
            continue
        verdict = {**entry.get("verdict", {}), "migrated_from": str(legacy)}
        try:
            _, exported = export_model(config, entry["tag"])
            moved.append(entry["tag"])
        except bentoml.exceptions.NotFound:  # gone from this store too: jobs elsewhere will say they cannot import it
            exported = None
            moved.append(f"{entry['tag']} (not in this store, so not exported)")
        _record(config, entry["tag"], verdict, entry.get("promoted_at", ""), exported, name)
    done = legacy.with_name(f"{POINTER_FILE}.migrated")
    legacy.replace(done)
    logger.warning(
        "registry: the champion pointer now lives in the lake (%s), the one source of truth for every job; "
        "%s from %s, which is kept as %s and no longer read.",
        pointer_url(config),
        f"moved {', '.join(moved)}" if moved else "the lake already named the champion, so nothing was taken",
        legacy,
        done.name,
    )
    return moved
