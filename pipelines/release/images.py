"""Image references: the one place that spells `<registry>/<name>:<tag>@<digest>` for CD, the stacks and make.

CD pushes to, the stacks deploy from, and `make` tags with the same string, all derived from `[images] registry`,
`[serving] service_name` and `[images] pipeline_name`; a second spelling elsewhere is how CD once pushed to one
repository while the stacks pulled from another.

A release's identity travels to `pulumi up` as environment variables (`release_env`), not as stack config: config
set by CI lands in a checkout that is thrown away, so the next preview would revert it. The stack records the
reference it runs as its output `image` (infra/release.py), where later previews and a manual `pulumi up` read it.
"""

from __future__ import annotations

import re

from pipelines.config import Config

KINDS = ("serving", "pipeline")
IMAGE_OUTPUT = "image"  # every project that runs one of our images exports the full reference it runs
CONFIG_IMAGE_OUTPUT = "imageFromConfig"  # and the reference its stack file named then (infra/release.py)
RELEASE_ENV = {"serving": "MLRIG_RELEASE_SERVING_IMAGE", "pipeline": "MLRIG_RELEASE_PIPELINE_IMAGE"}
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REFERENCE = re.compile(r"^[a-z0-9][a-z0-9._:/-]*[a-z0-9](:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$")


def image_name(config: Config, kind: str) -> str:
    """The image's name without registry: `[serving] service_name` or `[images] pipeline_name`."""
    if kind not in KINDS:
        raise ValueError(f"image kind {kind!r} is not one of {', '.join(KINDS)}")
    return config.serving.service_name if kind == "serving" else config.images.pipeline_name


def image_repository(config: Config, kind: str, registry: str | None = None) -> str:
    """`<registry>/<name>`: where CD pushes `kind` and the stacks pull it from."""
    return f"{(registry or config.images.registry).rstrip('/')}/{image_name(config, kind)}"


def reference(repository: str, *, tag: str | None = None, digest: str | None = None) -> str:
    """`repository:tag@digest`, `repository@digest` or `repository:tag`; `latest`, empty or malformed parts refused."""
    if digest is not None and not _DIGEST.match(digest):
        raise ValueError(f"image digest {digest!r} is not a sha256 digest (sha256:<64 hex>)")
    if tag is not None:
        if not _TAG.match(tag):
            raise ValueError(f"image tag {tag!r} is not a valid image tag")
        if tag == "latest":
            raise ValueError("image tag 'latest' moves under you: use an immutable tag or a digest")
    if not tag and not digest:
        raise ValueError(f"image {repository}: give a tag or a digest")
    return repository + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def image_reference(
    config: Config, kind: str, *, tag: str | None = None, digest: str | None = None, registry: str | None = None
) -> str:
    """The reference CD pushes, the stacks deploy and make tags: `<registry>/<name>[:tag][@digest]`."""
    return reference(image_repository(config, kind, registry), tag=tag, digest=digest)


def check_reference(ref: str) -> str:
    """A full reference handed in from outside (an environment variable, a stack output), checked before use."""
    if not _REFERENCE.match(ref) or ref.endswith(":latest") or ("@" not in ref and ":" not in ref.rsplit("/", 1)[-1]):
        raise ValueError(
            f"image reference {ref!r} is not <registry>/<name>:<tag>[@sha256:…] with a tag other than latest"
        )
    return ref


def release_env(images: dict[str, str]) -> dict[str, str]:
    """The environment `pulumi up` runs with so the programs deploy exactly these references (kind → reference)."""
    return {RELEASE_ENV[kind]: check_reference(ref) for kind, ref in images.items()}
