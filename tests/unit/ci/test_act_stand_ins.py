"""The act stand-ins (tools/act/): one per marketplace action the workflows use, each a composite action that act
is pointed at by the exact pin the workflow names; the artifact stand-ins round-trip files as GitHub's do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT
from tools.act import run

WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml"))


def test_every_action_the_workflows_use_has_a_composite_stand_in() -> None:
    known = run.stand_ins()
    used = {action for action, _ in run.pinned_actions(WORKFLOWS)}
    assert used and used <= set(known)
    for action in used:
        spec = yaml.safe_load((run.HERE / "actions" / known[action].dir / "action.yml").read_text())
        assert spec["runs"]["using"] == "composite", action
        assert "stand-in" in spec["name"]


def test_stand_ins_are_given_at_the_pins_the_workflows_name() -> None:
    flags = run.local_repository_flags(WORKFLOWS)
    pairs = [flags[i + 1] for i in range(0, len(flags), 2)]
    for action, sha in run.pinned_actions(WORKFLOWS):
        assert any(pair.startswith(f"{action}@{sha}=") and Path(pair.split("=", 1)[1]).is_dir() for pair in pairs)


def test_an_action_without_a_stand_in_stops_the_run_before_act(tmp_path: Path) -> None:
    workflow = tmp_path / "x.yml"
    workflow.write_text("jobs:\n  a:\n    steps:\n      - uses: someone/new-action@" + "a" * 40 + " # v1\n")
    with pytest.raises(SystemExit, match="no stand-in for someone/new-action"):
        run.local_repository_flags([workflow])


def test_the_artifact_stand_ins_keep_paths_relative_to_their_common_folder(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / ".cache" / "ci-work" / "reports").mkdir(parents=True)
    (work / ".cache" / "junit.xml").write_text("<junit/>")
    (work / ".cache" / "ci-work" / "reports" / "gate.json").write_text("{}")
    env = {"MLRIG_ACT_ARTIFACTS": str(tmp_path / "store"), "PATH": "/usr/bin:/bin"}
    script = str(run.HERE / "artifacts.py")
    paths = ".cache/junit.xml\n.cache/ci-work/reports\n.cache/missing.xml"
    up = subprocess.run([sys.executable, script, "upload", "ci", "warn", paths], cwd=work, env=env, check=False)
    assert up.returncode == 0
    other = tmp_path / "other"
    other.mkdir()
    down = subprocess.run([sys.executable, script, "download", "ci", ".cache"], cwd=other, env=env, check=False)
    assert down.returncode == 0
    assert (other / ".cache" / "junit.xml").read_text() == "<junit/>"
    assert (other / ".cache" / "ci-work" / "reports" / "gate.json").is_file()
    missing = subprocess.run([sys.executable, script, "download", "nope", "."], cwd=other, env=env, check=False)
    assert missing.returncode == 1
