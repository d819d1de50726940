"""Build contexts: what each image's Dockerfile copies, assembled in a folder the engine receives.

Python packages arrive as wheels downloaded on the host (pip, with the host's CA bundle) into a cache keyed by
the pinned list, so builds need no network and no compiler, and a warm build downloads nothing. The pins are
the versions installed from uv.lock, dependencies included (read from the installed metadata): the image runs
exactly what the tests ran.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution, requires
from pathlib import Path

from packaging.requirements import Requirement

from infra.images import layout
from infra.images.cache import PROJECT_ROOT, cache_key, cache_root
from infra.images.errors import ImageError
from service.package import RUNTIME_PACKAGES

DOCKERFILES = Path(__file__).resolve().parent / "dockerfiles"
# The pipeline image runs every `mlrig` stage (data, tuning, training, gate, monitoring, init), so it installs
# the project's own requirements (pyproject.toml, one source), less the tools that deploy rather than run it.
DEPLOYMENT_ONLY = {"pulumi", "pulumi-kubernetes", "pulumi-policy", "docker"}  # workstation and CI, not Jobs


def pipeline_packages() -> list[str]:
    requirements = [Requirement(r) for r in requires("mlrig") or [] if "extra ==" not in r]
    return [str(r) for r in requirements if _canonical(r.name) not in DEPLOYMENT_ONLY]


PIPELINE_SOURCES = ["mlrig_cli", "pipelines", "service", "infra/__init__.py", "infra/images", "mlrig.toml"]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_closure(requirements: list[str]) -> list[str]:
    """`name==version` for each requirement and everything it needs, as installed in this environment."""
    pins: dict[str, str] = {}
    pending = [Requirement(r) for r in requirements]
    while pending:
        requirement = pending.pop()
        name = _canonical(requirement.name)
        try:
            dist = distribution(requirement.name)
        except PackageNotFoundError as err:
            raise ImageError(
                f"{requirement.name} is needed in the image but not installed here: run `make install`"
            ) from err
        extras = set(requirement.extras)
        if name in pins and not extras:
            continue
        pins[name] = dist.version
        for line in dist.requires or []:
            needed = Requirement(line)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            applies = needed.marker is None or any(needed.marker.evaluate(env) for env in environments)
            if applies and (_canonical(needed.name) not in pins or needed.extras):
                pending.append(needed)
    return sorted(f"{name}=={version}" for name, version in pins.items())


def wheelhouse(pins: list[str]) -> Path:
    """A folder with one wheel per pin and requirements.txt, downloaded once per pin list."""
    folder = cache_root() / f"wheels-{cache_key(pins)}"
    requirements = folder / "requirements.txt"
    if requirements.exists():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    (partial / "requirements.in").write_text("\n".join(pins) + "\n")
    # Wheels only: the images have no compiler. The host's tags decide which wheel; the base is the same
    # Debian/glibc/CPython as a Linux x86_64 host. PIP_FIND_LINKS would mix in unrelated local wheels.
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += ["--dest", str(partial), "--requirement", str(partial / "requirements.in")]
    env = {k: v for k, v in os.environ.items() if k != "PIP_FIND_LINKS"}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise ImageError(f"downloading wheels for the image failed:\n{result.stderr.strip()[-2000:]}")
    (partial / "requirements.in").rename(partial / "requirements.txt")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder


def uv_binary() -> Path:
    """The uv the Makefile pinned (or one on PATH): it installs the wheels inside the build's first stage."""
    pinned = sorted(PROJECT_ROOT.glob(".cache/uv-*/bin/uv"))
    found = pinned[-1] if pinned else shutil.which("uv")
    if not found:
        raise ImageError("no uv binary to install wheels with: run `make install` (it pins uv under .cache/)")
    return Path(found)


def _wheels_into(context: Path, pins: list[str]) -> None:
    _link_tree(wheelhouse(pins), context / "wheels")
    _link_or_copy(str(uv_binary()), str(context / "wheels" / "uv"))


def _link_tree(source: Path, target: Path) -> None:
    """Hard links where possible: a 200 MB wheelhouse costs no copy."""
    shutil.copytree(source, target, copy_function=_link_or_copy, dirs_exist_ok=True)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def dockerfile_env(name: str, value: str) -> str:
    """An ENV line whatever the value holds: double-quoted with backslash escapes, which is a JSON string
    literal (the Bento's pinned A/B variants are JSON, with spaces and quotes)."""
    return f"ENV {name}={json.dumps(str(value))}"


def render_dockerfile(kind: str, target: Path, **fields: str) -> None:
    text = (DOCKERFILES / f"{kind}.Dockerfile").read_text()
    layout_fields = {"bentoml_home": layout.BENTOML_HOME, "work_dir": layout.SERVING_WORK_DIR}
    for key, value in {**layout_fields, **fields}.items():
        text = text.replace("{" + key + "}", value)
    (target / "Dockerfile").write_text(text)  # the engine API wants exactly this name


def serving_context(bento_dir: Path, env_lines: list[str], target: Path) -> Path:
    """Dockerfile + wheels + the exported Bento (its src/, bento.yaml and models/)."""
    context = _fresh(target)
    _wheels_into(context, pinned_closure(RUNTIME_PACKAGES))
    shutil.copytree(bento_dir, context / "bento", ignore=shutil.ignore_patterns("__pycache__"))
    render_dockerfile("serving", context, bento_envs="\n".join(env_lines) or "# (none)")
    return context


def pipeline_context(target: Path, project_root: Path = PROJECT_ROOT) -> Path:
    """Dockerfile + wheels + the project's Python sources and config (no tests, caches or work folders)."""
    context = _fresh(target)
    _wheels_into(context, pinned_closure(pipeline_packages()))
    for name in PIPELINE_SOURCES:
        source = project_root / name
        if source.is_dir():
            shutil.copytree(source, context / "src" / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (context / "src" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, context / "src" / name)
    render_dockerfile("pipeline", context)
    return context
