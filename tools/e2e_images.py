"""The e2e's images, named by what they are made of: one home for the tag and the content key, which the e2e
(tests/e2e) and the rehearsal (tools/rehearsal) both use, so a warm run of either reuses the other's builds."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import docker

from infra.images.context import PIPELINE_SOURCES

IMAGE_TAG = "e2e"
TRAINING = (
    ["generate", "--rows", "3000", "--days", "2"],
    ["ingest"],
    ["refine"],
    ["features"],
    ["train"],
    ["build"],  # with MLRIG_MODEL_TAG naming the model just trained (images fixture)
)
IMAGE_SOURCES = (*PIPELINE_SOURCES, "pyproject.toml", "uv.lock")  # what both images are made of (and the wheels)


def content_key(root: Path, paths: tuple[str, ...], *extra: object) -> str:
    """A hash of the files an image is made of (tracked or not, ignored ones excepted) and of `extra`: the same
    key means the same image, so a warm run reuses it instead of training and building again."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", *paths], cwd=root, capture_output=True, text=True,
        check=True,
    ).stdout.split()  # fmt: skip
    digest = hashlib.sha256(repr(extra).encode())
    for name in sorted(listed):
        if (root / name).is_file():
            digest.update(name.encode() + b"\0" + (root / name).read_bytes())
    return digest.hexdigest()[:16]


def present(engine: docker.DockerClient, ref: str) -> bool:
    """Whether the image engine already holds `ref` (then a warm run reuses it)."""
    try:
        engine.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True
