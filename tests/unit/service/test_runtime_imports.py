"""The serving image installs only service/package.py's RUNTIME_PACKAGES and their dependencies: the service must
import without the pipeline's other libraries (pandera once arrived through a shared helper and the image failed
to start with `No module named 'pandera'`)."""

import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, requires

from packaging.requirements import Requirement

from service.package import RUNTIME_PACKAGES


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names: list[str]) -> set[str]:
    """Every distribution the runtime packages pull in (what the image's resolver installs)."""
    seen: set[str] = set()
    pending = list(names)
    while pending:
        name = _canonical(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = requires(name) or []
        except PackageNotFoundError:  # an optional dependency that is not installed here
            continue
        pending += [Requirement(r).name for r in reqs if "extra ==" not in r]
    return seen


def _pipeline_only_modules() -> list[str]:
    project = {_canonical(Requirement(r).name) for r in requires("mlrig") or [] if "extra ==" not in r}
    missing = sorted(project - _closure(RUNTIME_PACKAGES))
    return [name.replace("-", "_") for name in missing]


def test_the_service_modules_import_with_only_the_runtime_packages():
    blocked = _pipeline_only_modules()
    assert "pandera" in blocked  # the check below means something only if pipeline-only libraries are blocked
    probe = (
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None  # importing it now raises ImportError, as in the image\n"
        "import service.schema, service.scoring, service.front_door, service.prediction_log, service.routing\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
