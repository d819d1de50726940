"""The rehearsal's own pieces (tools/rehearsal/): the derived workflows run cd.yml's deploy jobs unchanged with the
release's outputs fed in, and the environment override only adds to the shipped stack files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tools.rehearsal import stacks, workflows

CD = PROJECT_ROOT / ".github" / "workflows" / "cd.yml"
OUTPUTS = {"tag": "0" * 40, "serving-digest": "sha256:" + "a" * 64, "pipeline-digest": "sha256:" + "b" * 64}


@pytest.mark.parametrize("job", ["staging", "production"])
def test_a_deploy_job_runs_unchanged_with_the_release_outputs_fed_in(tmp_path: Path, job: str) -> None:
    derived = workflows.load(workflows.deploy_job_workflow(CD, job, OUTPUTS, tmp_path / f"{job}.yml"))
    original = workflows.load(CD)
    assert derived["jobs"][job] == original["jobs"][job]  # steps, env, environment, concurrency: all as shipped
    assert derived["on"] == original["on"] and derived["env"] == original["env"]
    assert derived["jobs"]["release"]["outputs"] == OUTPUTS
    assert "uses" not in str(derived["jobs"]["release"])  # a stub: it builds nothing
    needs = original["jobs"][job]["needs"]
    assert set(derived["jobs"]) == {"release", job, *([needs] if isinstance(needs, str) else needs)}


def test_the_derived_workflow_passes_actionlint(tmp_path: Path) -> None:
    path = workflows.deploy_job_workflow(CD, "production", OUTPUTS | {"serving-image": "x", "pipeline-image": "y"},
                                         tmp_path / "production.yml")  # fmt: skip
    actionlint = PROJECT_ROOT / ".venv" / "bin" / "actionlint"
    done = subprocess.run([str(actionlint), "-shellcheck=", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_release_outputs_are_read_as_github_output_lines(tmp_path: Path) -> None:
    path = tmp_path / "release.env"
    path.write_text("serving-digest=sha256:abc\nserving-image=r/s:t@sha256:abc\nnoise\n")
    assert workflows.read_outputs(path) == {"serving-digest": "sha256:abc", "serving-image": "r/s:t@sha256:abc"}


def test_the_override_only_names_keys_the_programs_read() -> None:
    """A typo in the override would be silently ignored by Pulumi: every key must be one the project reads."""
    program = "\n".join(p.read_text() for p in (PROJECT_ROOT / "infra").rglob("*.py"))
    prefixes = ("job", "train", "serving")  # infra/settings.py read_sizing(c, "<prefix>"): <prefix>Cpu, …MemoryLimit
    sizing = {f"{p}{part}": p for p in prefixes for part in ("Cpu", "Memory", "CpuLimit", "MemoryLimit")}
    for values in stacks.OVERRIDES.values():
        for key in values:
            read = f'"{key}"' in program or f'"{key.removesuffix("Schedule")}"' in program
            assert read or (key in sizing and f'read_sizing(c, "{sizing[key]}"' in program), key
