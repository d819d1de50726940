"""Where slow artifacts are kept between runs: .cache/images/ in the project (git-ignored), or $MLRIG_IMAGES_CACHE.

Each artifact sits in a folder named by a hash of what made it (suite and packages; the pinned wheel list), so
a changed pin makes a new folder and a warm run reuses the old one untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CACHE_ENV = "MLRIG_IMAGES_CACHE"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cache_root() -> Path:
    root = Path(os.environ.get(CACHE_ENV) or PROJECT_ROOT / ".cache" / "images")
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]
