"""The Pulumi CLI built here (tools/build-tools.sh) against what the make recipes tell it (issue 16, item 9):
`pulumi login --local --cloud-url file://…` is refused by the real CLI; the recipes' login form is accepted."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pulumi(tools_dir: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "true"}
    return subprocess.run([str(tools_dir / "bin" / "pulumi"), *args], capture_output=True, text=True, env=env)


def test_the_old_login_form_is_refused_by_the_real_cli(tools_dir: Path, tmp_path: Path) -> None:
    done = _pulumi(tools_dir, tmp_path / "home", "login", "--local", "--cloud-url", f"file://{tmp_path}")
    assert done.returncode != 0
    assert "a URL may not be specified when --local mode is enabled" in done.stderr


def test_every_login_the_make_recipes_run_is_accepted(tools_dir: Path, tmp_path: Path) -> None:
    rendered = subprocess.run(
        ["make", "-n", "--no-print-directory", "kind-up", "TAG=abc"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    logins = re.findall(r"^pulumi login (\S+)$", rendered, re.MULTILINE)
    assert logins, rendered
    for url in logins:
        state = tmp_path / "state"
        state.mkdir(exist_ok=True)
        url = re.sub(r"^file://.*$", f"file://{state}", url)  # the recipe's form, in a throwaway folder
        done = _pulumi(tools_dir, tmp_path / "home", "login", url)
        assert done.returncode == 0, done.stderr
        assert f"({url})" in done.stdout
