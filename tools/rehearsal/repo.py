"""The rehearsal's repository: a throwaway clone of this checkout's HEAD, owned by the runner user, where the
rehearsal commits what a pull request or a merge would (a challenger's config, a broken service)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def clone(into: Path, user: str) -> Path:
    """A fresh clone of HEAD at `into` (replaced if present), owned by `user` so its jobs can write in it."""
    subprocess.run(["rm", "-rf", str(into)], check=True)
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(into)], check=True)
    git(into, "config", "user.email", "rehearsal@mlrig.invalid")
    git(into, "config", "user.name", "mlrig rehearsal")
    if user:
        subprocess.run(["chown", "-R", f"{user}:", str(into)], check=True)
    return into


def commit(repo: Path, message: str, edits: dict[str, str], user: str) -> str:
    """Write `edits` (path → new text), commit them, return the commit SHA."""
    for path, text in edits.items():
        (repo / path).write_text(text, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)
    if user:
        subprocess.run(["chown", "-R", f"{user}:", str(repo)], check=True)
    return git(repo, "rev-parse", "HEAD")
