"""Builds the serving and pipeline images through the engine API, labelled with what they carry.

Serving: the latest Bento, exported (code, config, bento.yaml and its model) onto the pinned base with our own
two-stage Dockerfile rather than BentoML's generated one, which starts FROM python:3.11-slim, installs
build-essential and git into the final image and downloads uv and every package during the build.
Pipeline: the project's sources with the pipeline's packages; its entrypoint is `mlrig`.
Both are tagged `<name>:<commit>` and labelled (OCI annotations) with the commit, model version and contract hash.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import yaml
from docker.errors import APIError, BuildError

from infra.images.base import ensure_base_image
from infra.images.cache import PROJECT_ROOT, cache_root
from infra.images.context import dockerfile_env, pipeline_context, serving_context
from infra.images.errors import ImageError
from pipelines.config import Config
from pipelines.release.images import image_name, reference

KINDS = ("serving", "pipeline")
LABEL_MODEL = "io.mlrig.model-version"
LABEL_CONTRACT = "io.mlrig.contract-hash"
STEP = re.compile(r"^(?:STEP|Step) \d+.*$", re.MULTILINE)  # Podman: "STEP 3/7: RUN …", Docker: "Step 3/7 : RUN …"


@dataclass(frozen=True)
class BuiltImage:
    ref: str
    image_id: str
    size_bytes: int
    seconds: float
    labels: dict[str, str]


def git_commit(root: Path = PROJECT_ROOT) -> str:
    """The commit the image is built from (tags and labels carry it); `dev` outside a git checkout."""
    result = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "dev"


def image_ref(config: Config, kind: str, tag: str | None = None) -> str:
    return reference(image_name(config, kind), tag=tag or git_commit())


def build_image(client: docker.DockerClient, context: Path, ref: str, labels: dict[str, str], buildargs: dict) -> str:
    """Build `context`/Dockerfile as `ref`; a failure names the failing step and shows the build output's end."""
    output: list[str] = []
    try:
        for chunk in client.api.build(
            path=str(context), tag=ref, labels=labels, buildargs=buildargs, rm=True, forcerm=True, decode=True
        ):
            output.append(str(chunk.get("stream", "")))
            if "error" in chunk or "errorDetail" in chunk:
                raise BuildError(chunk.get("error") or chunk["errorDetail"].get("message", ""), output)
    except (BuildError, APIError) as err:
        log = "".join(output)
        steps = STEP.findall(log)
        failing = steps[-1] if steps else "(before the first step)"
        tail = "\n".join(log.strip().splitlines()[-20:])
        raise ImageError(f"building {ref} failed at {failing}\n  error: {err}\n  last build output:\n{tail}") from err
    try:
        return client.images.get(ref).id
    except docker.errors.ImageNotFound as err:  # an engine that "succeeds" without an image must not pass
        raise ImageError(f"the engine reported a build of {ref} but has no such image") from err


def _export_bento(config: Config, target: Path) -> tuple[Path, dict]:
    """The latest Bento as `bentoml export` lays it out (with models/), and its bento.yaml."""
    import bentoml

    from pipelines.ml.register import use_bentoml_home

    use_bentoml_home(config.bentoml_home)
    try:
        bento = bentoml.bentos.get(f"{config.serving.service_name}:latest")
    except bentoml.exceptions.NotFound as err:
        raise ImageError(
            f"no Bento {config.serving.service_name} in {config.bentoml_home}: run `mlrig build` first"
        ) from err
    archive = target / "bento.tar"
    bentoml.bentos.export_bento(bento.tag, str(archive))
    unpacked = target / "bento"
    with tarfile.open(archive) as tar:
        safe_extract(tar, unpacked)
    return unpacked, yaml.safe_load((unpacked / "bento.yaml").read_text())


def safe_extract(tar: tarfile.TarFile, into: Path) -> None:
    """Extract with the "data" filter (no absolute paths, no escapes, no devices). Python < 3.11.4 (Debian
    bookworm's 3.11.2, the python a runner without pyenv has) lacks filters: the same refusals are checked here."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(into, filter="data")
        return
    root = into.resolve()
    for member in tar.getmembers():
        if _escapes(member, root):
            raise ImageError(f"refusing to unpack {member.name!r}: it points outside {into}")
    tar.extractall(into)  # noqa: S202 - every member checked above


def _escapes(member: tarfile.TarInfo, root: Path) -> bool:
    target = (root / member.name).resolve()
    if not target.is_relative_to(root) or member.isdev():
        return True
    if member.issym() or member.islnk():
        link = Path(member.linkname)
        return link.is_absolute() or not (target.parent / link).resolve().is_relative_to(root)
    return False


def _labels(config: Config, kind: str, commit: str, model_version: str) -> dict[str, str]:
    return {
        "org.opencontainers.image.title": config.serving.service_name
        if kind == "serving"
        else config.images.pipeline_name,
        "org.opencontainers.image.description": f"mlrig {kind} image for {config.project.name}",
        "org.opencontainers.image.revision": commit,
        "org.opencontainers.image.created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "org.opencontainers.image.base.name": config.images.base_image,
        "org.opencontainers.image.licenses": "Apache-2.0",
        LABEL_CONTRACT: config.contract.fingerprint,
        LABEL_MODEL: model_version,
    }


def build(client: docker.DockerClient, config: Config, kind: str, tag: str | None = None) -> BuiltImage:
    """Build one of KINDS from the current project (and, for serving, its latest Bento)."""
    if kind not in KINDS:
        raise ImageError(f"unknown image {kind!r}: choose one of {', '.join(KINDS)}")
    started = time.monotonic()
    ensure_base_image(client, config.images)
    commit = git_commit()
    ref = image_ref(config, kind, tag)
    scratch_root = cache_root() / "contexts"
    scratch_root.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch_root) as scratch:
        if kind == "serving":
            bento_dir, bento = _export_bento(config, Path(scratch))
            model_version = ",".join(m["tag"] for s in bento.get("services", []) for m in s.get("models", []))
            envs = [dockerfile_env(e["name"], e["value"]) for e in bento.get("envs") or []]
            context = serving_context(bento_dir, envs, Path(scratch) / "context", config.serving.port)
        else:
            model_version = "none"  # the pipeline makes models; it ships none
            context = pipeline_context(Path(scratch) / "context")
        labels = _labels(config, kind, commit, model_version)
        buildargs = {"BASE_IMAGE": config.images.base_image, "USER_UID": str(config.images.user_uid)}
        image_id = build_image(client, context, ref, labels, buildargs)
    image = client.images.get(image_id)
    return BuiltImage(ref, image_id, int(image.attrs.get("Size", 0)), time.monotonic() - started, labels)
