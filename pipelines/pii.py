"""PII treatment on the way out of bronze: columns the contract marks `drop` vanish, `pseudonymize` ones become
a keyed HMAC-SHA256, so they still join across tables but cannot be reversed or recomputed without the key.

The key comes from MLRIG_PII_KEY (a secret in CI and in the cluster). For a laptop demo with no key set, a
random key is made once in the git-ignored work folder, and the user is told so.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import polars as pl
import polars_hash as plh

from pipelines.config import Contract

PII_KEY_ENV = "MLRIG_PII_KEY"
MIN_KEY_CHARS = 16


class PiiKeyError(ValueError):
    """The pseudonymisation key is missing or too weak."""


def pii_key(work_dir: Path) -> tuple[str, str]:
    """Return (key, where it came from). Prefers the environment; falls back to a local key file for demos."""
    key = os.environ.get(PII_KEY_ENV)
    if key is not None:
        if len(key) < MIN_KEY_CHARS:
            raise PiiKeyError(
                f"{PII_KEY_ENV} must be at least {MIN_KEY_CHARS} characters; generate one with "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
        return key, f"${PII_KEY_ENV}"
    path = work_dir / "secrets" / "pii.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip(), f"{path} (local demo key; set ${PII_KEY_ENV} in production)"


def pseudonymize_value(value: str, key: str) -> str:
    """One value as `treat_pii` would write it (HMAC-SHA256, hex): for keys that arrive outside a table, such as
    a request key a service logs, so they still join with silver."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def treat_pii(frame: pl.DataFrame | pl.LazyFrame, contract: Contract, key: str):
    """Drop or pseudonymise every PII column present in `frame`, per the contract."""
    present = set(frame.collect_schema().names())
    drop = [c.name for c in contract.pii_columns if c.pii == "drop" and c.name in present]
    hashed = [
        plh.col(c.name).cast(pl.String).chash.hmac_sha256(key=key).alias(c.name)
        for c in contract.pii_columns
        if c.pii == "pseudonymize" and c.name in present
    ]
    return frame.drop(drop).with_columns(hashed)
