"""Deploy and roll back the serving image with Pulumi, remembering the tag each deploy replaced.

`deploy` reads the image tag the stack runs now (its output IMAGE_TAG_KEY, `imageTag`), records it as a stack tag
(`release.previous_tag_key`, kept by the Pulumi backend, so a later CI job or a person at a laptop finds it),
then `pulumi up`s the new tag. `rollback` reads that stack tag back and `pulumi up`s it. Both drive the
`pulumi` CLI through a `Runner`, so tests record the exact commands and answer them without a backend.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import IMAGE_TAG_KEY, Config

Runner = Callable[[Sequence[str], Path], subprocess.CompletedProcess]


class ReleaseError(RuntimeError):
    """A Pulumi command failed, or there is nothing to roll back to; the message says which and what to do."""


def run_pulumi(argv: Sequence[str], cwd: Path) -> subprocess.CompletedProcess:
    """The real runner: the `pulumi` CLI on PATH, output captured so errors can quote it."""
    if not cwd.is_dir():
        raise ReleaseError(
            f"no Pulumi project at {cwd}: set release.serving_project in the project config to the serving project"
        )
    try:
        return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as err:
        raise ReleaseError(
            "the pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) "
            "or use the pulumi/actions step in CI"
        ) from err


@dataclass(frozen=True)
class DeployResult:
    stack: str
    tag: str
    previous_tag: str | None

    def summary(self, verb: str = "deployed") -> str:
        before = self.previous_tag or "nothing recorded"
        return f"{verb} {self.tag} to stack {self.stack} (it replaced: {before})"


class PulumiStack:
    """One stack of the serving project, driven through `runner`."""

    def __init__(self, config: Config, stack: str, runner: Runner = run_pulumi) -> None:
        project = config.release.serving_project
        self.cwd = project if project.is_absolute() else config.source.parent / project
        self.stack = stack
        self.settings = config.release
        self.runner = runner

    def _run(self, *args: str, allow_failure: bool = False) -> subprocess.CompletedProcess:
        argv = ["pulumi", *args, "--stack", self.stack, "--non-interactive"]
        done = self.runner(argv, self.cwd)
        if done.returncode != 0 and not allow_failure:
            raise ReleaseError(
                f"`{' '.join(argv)}` in {self.cwd} exited {done.returncode}: {(done.stderr or done.stdout).strip()}"
            )
        return done

    def current_tag(self) -> str | None:
        """The image tag the stack runs now: its output of that name, or None before the first deploy."""
        done = self._run("stack", "output", IMAGE_TAG_KEY, allow_failure=True)
        return done.stdout.strip() or None if done.returncode == 0 else None

    def recorded_previous_tag(self) -> str | None:
        done = self._run("stack", "tag", "get", self.settings.previous_tag_key, allow_failure=True)
        return done.stdout.strip() or None if done.returncode == 0 else None

    def record_previous_tag(self, tag: str) -> None:
        self._run("stack", "tag", "set", self.settings.previous_tag_key, tag)

    def up(self, tag: str) -> None:
        self._run("config", "set", IMAGE_TAG_KEY, tag)
        self._run("up", "--yes", "--skip-preview", "--message", f"mlrig: serve image {tag}")


def deploy(stack: PulumiStack, tag: str) -> DeployResult:
    """Up `tag`, first recording the tag it replaces (unless it is the same tag: a re-run keeps the record)."""
    previous = stack.current_tag()
    if previous and previous != tag:
        stack.record_previous_tag(previous)
    stack.up(tag)
    return DeployResult(stack.stack, tag, previous if previous != tag else stack.recorded_previous_tag())


def rollback(stack: PulumiStack, to_tag: str | None = None) -> DeployResult:
    """Up the tag the last deploy replaced (or `to_tag`), recording the failed one so a roll-forward is one command."""
    target = to_tag or stack.recorded_previous_tag()
    if not target:
        raise ReleaseError(
            f"stack {stack.stack} has no previous image tag recorded ({stack.settings.previous_tag_key}): "
            "nothing to roll back to. Name one with `mlrig rollback --to <tag>`."
        )
    failed = stack.current_tag()
    stack.up(target)
    if failed and failed != target:
        stack.record_previous_tag(failed)
    return DeployResult(stack.stack, target, failed)
