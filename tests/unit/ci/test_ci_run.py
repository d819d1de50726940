"""`.ci/run` with stand-ins for make and the tools build (issue 16, item 14): a killed build is a failure, a build out
of time fails with a last line that says what did not run, a good build goes on to e2e-infra and then the rehearsal,
which runs without ci.yml's test job (make test ran first in the same run) and says so."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import PROJECT_ROOT


def _run(
    tmp_path: Path, build: str, budget_s: int = 3600, e2e_s: int = 0, rehearse_s: int = 0, make: str = ""
) -> tuple[int, list[str], list[str]]:
    log = tmp_path / "make.log"
    fake_make = tmp_path / "make"
    fake_make.write_text(f'#!/bin/bash\necho "$*" >> {log}\n{make}\n')
    fake_build = tmp_path / "build-tools"
    fake_build.write_text(f"#!/bin/bash\n{build}\n")
    for tool in (fake_make, fake_build):
        tool.chmod(0o755)
    env = {
        **os.environ,
        "CI_MAKE": str(fake_make),
        "CI_BUILD_TOOLS": str(fake_build),
        "CI_BUDGET_S": str(budget_s),
        "CI_E2E_S": str(e2e_s),
        "CI_REHEARSE_S": str(rehearse_s),
        "CI_MIN_BUILD_S": "1",
    }
    done = subprocess.run([str(PROJECT_ROOT / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=120)
    made = log.read_text().splitlines() if log.exists() else []
    return done.returncode, done.stdout.strip().splitlines(), made


def test_a_good_build_runs_e2e_then_the_rehearsal_without_the_test_job_and_says_why(tmp_path: Path) -> None:
    rc, out, made = _run(tmp_path, "exit 0")
    assert rc == 0 and made[:2] == ["test", "e2e-infra"] and len(made) == 3
    assert made[2].startswith("rehearse REHEARSE_PR_JOBS=preview REHEARSE_TEST_NOTE=")
    assert "make test, which this .ci/run ran at the same commit" in made[2]
    assert any(line.startswith("make rehearse without ci.yml's test job: ") for line in out)


def test_a_failed_rehearsal_fails_the_run_and_says_so_last(tmp_path: Path) -> None:
    rc, out, made = _run(tmp_path, "exit 0", make='[[ "$1" == rehearse ]] && exit 3; exit 0')
    assert rc == 3 and len(made) == 3
    assert out[-1].startswith("::error::make rehearse failed (exit 3")


def test_a_rehearsal_out_of_budget_is_not_run_and_says_so_last(tmp_path: Path) -> None:
    rc, out, _ = _run(tmp_path, "exit 0", budget_s=4, rehearse_s=2, make='[[ "$1" == rehearse ]] && sleep 30; exit 0')
    assert rc == 1 and out[-1].startswith("::error::NOT RUN: rehearse: stopped by CI's budget")


def test_no_time_left_for_the_rehearsal_after_e2e_fails_and_says_so_last(tmp_path: Path) -> None:
    rc, out, made = _run(
        tmp_path, "exit 0", budget_s=8, rehearse_s=6, make='[[ "$1" == e2e-infra ]] && sleep 6; exit 0'
    )
    assert rc == 1 and made == ["test", "e2e-infra"]
    assert out[-1].startswith("::error::NOT RUN: rehearse: ")


def test_a_build_killed_by_the_kernel_is_a_failure_not_a_skip(tmp_path: Path) -> None:
    rc, out, made = _run(tmp_path, "kill -9 $$")
    assert rc == 137
    assert "killed: out of memory?" in out[-1]
    assert made == ["test"]


def test_a_build_that_fails_fails_the_run(tmp_path: Path) -> None:
    rc, _, made = _run(tmp_path, "exit 2")
    assert rc == 2 and made == ["test"]


def test_a_build_out_of_time_fails_and_says_so_last(tmp_path: Path) -> None:
    rc, out, made = _run(tmp_path, "sleep 120", budget_s=3)
    assert rc == 1
    assert out[-1].startswith("::error::NOT RUN: e2e-infra and rehearse: the tools did not finish building")
    assert made == ["test"]


def test_no_time_left_after_make_test_fails_and_says_so_last(tmp_path: Path) -> None:
    rc, out, made = _run(tmp_path, "exit 0", budget_s=100, e2e_s=100)
    assert rc == 1 and out[-1].startswith("::error::NOT RUN: e2e-infra")
    assert made == ["test"]
