"""The pinned base image every mlrig image starts FROM (`images.base_image` in mlrig.toml).

A `localhost/mlrig-base:*` ref is made here: debootstrap (minbase of `images.base_suite` with
`images.base_packages`) → a root filesystem tarball cached under .cache/images/base-<key>/ → imported through
the engine API and tagged. Any other ref is pulled, so a mirror or an air-gapped registry only changes the config.
Making a base needs root and debootstrap (`make images-setup` installs it); a non-root user (GitHub's `runner`)
gets the root steps through `sudo -n` (passwordless sudo, as on hosted runners), never an interactive prompt.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import docker
from docker.errors import APIError, ImageNotFound

from infra.images.cache import cache_key, cache_root
from infra.images.errors import ImageError
from pipelines.config import ImagesSettings

LOCAL_PREFIX = "localhost/mlrig-base:"
LABEL_RECIPE = "io.mlrig.base-recipe"  # the hash of suite, packages and mirror the base was made from
# Docs, manuals, translations and apt's download cache: nothing an image runs needs them (halves the size).
PRUNED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt", "var/lib/apt/lists")


def recipe_key(settings: ImagesSettings) -> str:
    return cache_key(settings.base_suite, sorted(settings.base_packages), settings.debian_mirror)


def as_root(command: list[str]) -> list[str]:
    """`command` as root: itself when we are root, else through `sudo -n` (fails at once instead of prompting)."""
    return command if os.geteuid() == 0 else ["sudo", "-n", *command]


def base_tarball(settings: ImagesSettings) -> Path:
    """The cached root filesystem for the configured suite and packages, made once by debootstrap."""
    key = recipe_key(settings)
    tarball = cache_root() / f"base-{key}" / "rootfs.tar"
    if tarball.exists():
        return tarball
    if shutil.which("debootstrap") is None:
        raise ImageError(
            f"making the base image {settings.base_image} needs debootstrap (and root): run `make images-setup`, "
            "or set images.base_image in mlrig.toml to an image your registry or mirror already has."
        )
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent) as scratch:
        rootfs = Path(scratch) / "rootfs"
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(settings.base_packages)}",
            settings.base_suite,
            str(rootfs),
            settings.debian_mirror,
        ]
        result = subprocess.run(as_root(command), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise ImageError(f"debootstrap of {settings.base_suite} failed ({result.returncode}):\n{tail}")
        partial = tarball.with_suffix(".partial")
        if os.geteuid() == 0:
            for folder in PRUNED:
                shutil.rmtree(rootfs / folder, ignore_errors=True)
            with tarfile.open(partial, "w") as archive:
                archive.add(rootfs, arcname=".")
        else:  # root owns the tree (some files are root-only): prune, archive and clean up as root
            _root_steps(rootfs, partial)
        partial.replace(tarball)  # only a complete tarball ever has the final name
    return tarball


def _root_steps(rootfs: Path, partial: Path) -> None:
    steps = [
        ["rm", "-rf", *(str(rootfs / folder) for folder in PRUNED)],
        ["tar", "-C", str(rootfs), "-cf", str(partial), "."],
        ["chown", f"{os.getuid()}:{os.getgid()}", str(partial)],
        ["rm", "-rf", str(rootfs)],
    ]
    for step in steps:
        done = subprocess.run(as_root(step), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ImageError(f"`{' '.join(as_root(step))}` failed ({done.returncode}): {done.stderr.strip()[-500:]}")


def ensure_base_image(client: docker.DockerClient, settings: ImagesSettings) -> str:
    """Make sure `images.base_image` is in the engine: present, made locally, or pulled. Returns its id."""
    ref = settings.base_image
    try:
        image = client.images.get(ref)
        # A local base made from another recipe (packages changed, tag kept) is made again, not reused.
        if not ref.startswith(LOCAL_PREFIX) or image.labels.get(LABEL_RECIPE) == recipe_key(settings):
            return image.id
    except ImageNotFound:
        pass
    if not ref.startswith(LOCAL_PREFIX):
        try:
            return client.images.pull(ref).id
        except APIError as err:
            raise ImageError(
                f"cannot pull the base image {ref}: {err.explanation or err}. Check images.base_image in "
                "mlrig.toml (your mirror's ref) and that the engine can reach that registry."
            ) from err
    repository, tag = ref.rsplit(":", 1)
    with base_tarball(settings).open("rb") as rootfs:
        answer = client.api.import_image_from_data(
            rootfs.read(), repository=repository, tag=tag, changes=[f"LABEL {LABEL_RECIPE}={recipe_key(settings)}"]
        )
    image_id = _imported_id(answer)
    client.images.get(image_id).tag(repository, tag)  # Podman's import leaves the image untagged
    return image_id


def _imported_id(answer: str) -> str:
    for line in str(answer).splitlines():
        line = line.strip()
        if line.startswith("{"):
            status = json.loads(line)
            found = status.get("id") or status.get("status", "")
            if str(found).startswith("sha256:"):
                return str(found)
    raise ImageError(f"the engine did not report an image id for the imported base: {answer!r}")
