"""The rehearsal's repository: a throwaway clone of this checkout's HEAD, owned by the runner user, where the
rehearsal commits what a pull request or a merge would (a challenger's config, a broken service)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def git_env() -> dict[str, str]:
    """The clones belong to the runner user; git (2.39) honours safe.directory only from a global or system file,
    not from `-c`: a global file of our own says so (the same as make/runner.mk's)."""
    config = ROOT / ".cache" / "rehearsal.gitconfig"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[safe]\n\tdirectory = *\n", encoding="utf-8")
    return {**os.environ, "GIT_CONFIG_GLOBAL": str(config)}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=git_env())
    return done.stdout.strip()


def clone(into: Path, user: str, source: Path = ROOT, ref: str | None = None) -> Path:
    """A fresh clone of `source` (default: this checkout) at HEAD or `ref`, at `into` (replaced if present), owned by
    `user` so its jobs can write in it."""
    subprocess.run(["rm", "-rf", str(into)], check=True)
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(source), str(into)], check=True, env=git_env())
    if ref:
        git(into, "checkout", "--quiet", "-B", "main", ref)
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
