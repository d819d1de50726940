"""Fixtures for data-pipeline integration tests: `mlrig` as a real subprocess, the way a scheduler runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT


def mlrig(*args: str, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    """Start `mlrig <args>` in a fresh interpreter with the test's environment (work dir, PII key) plus `env`."""
    return subprocess.Popen(
        [sys.executable, "-m", "mlrig_cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def run_mlrig(*args: str, env: dict[str, str] | None = None, timeout_s: float = 120) -> str:
    """Run `mlrig <args>` to the end; fail the test with its output unless it exits 0."""
    process = mlrig(*args, env=env)
    output, _ = process.communicate(timeout=timeout_s)
    assert process.returncode == 0, f"mlrig {' '.join(args)} exited {process.returncode}:\n{output}"
    return output


def wait_for(path: Path, process: subprocess.Popen, timeout_s: float = 240) -> None:
    """Poll until `path` exists (the process reached the fault hook); fail if the process ends first."""
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"process ended ({process.returncode}) before reaching the hook:\n{process.stdout.read()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"process did not reach the hook within {timeout_s} s")
        time.sleep(0.05)
