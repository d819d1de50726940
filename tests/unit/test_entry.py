"""The last-resort handler of the `mlrig` command, run as a user runs it: a real process, its real streams."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# a command that fails the way a bug does (no handler of its own), added to the real app before main() runs it
CRASHING = (
    "import sys; from mlrig_cli.app import app; from mlrig_cli.entry import main\n"
    "@app.command('crash')\n"
    "def crash() -> None:\n"
    "    raise KeyError('some_column')\n"
    "sys.argv = ['mlrig', *sys.argv[1:]]; main()\n"
)


def run(*args: str, env: dict[str, str] | None = None, tmp: Path) -> subprocess.CompletedProcess:
    environment = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp), "HOME": str(tmp), **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", CRASHING, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_a_bug_gives_one_line_and_keeps_the_traceback_in_a_file(tmp_path):
    result = run("crash", tmp=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "mlrig: unexpected error (KeyError: 'some_column'). This is a bug" in result.stderr
    saved = Path(re.search(r"traceback is in (\S+)", result.stderr).group(1))
    assert saved.parent == tmp_path
    text = saved.read_text()
    assert (
        text.startswith("mlrig crash\n")
        and "Traceback" in text
        and "in crash" in text
        and "KeyError: 'some_column'" in text
    )


def test_the_traceback_is_printed_where_a_log_is_all_there_is(tmp_path):
    result = run("crash", env={"MLRIG_TRACEBACK": "1"}, tmp=tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "KeyError: 'some_column'" in result.stderr
    assert list(tmp_path.glob("mlrig-error-*")) == []


def test_usage_errors_and_help_are_still_the_apps_own(tmp_path):
    assert run("--help", tmp=tmp_path).returncode == 0
    wrong = run("no-such-command", tmp=tmp_path)
    assert wrong.returncode == 2 and "No such command" in wrong.stderr and "unexpected error" not in wrong.stderr
