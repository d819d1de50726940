"""Deploy a release to every project of a stack, in dependency order, and roll serving back.

`deploy` brings platform → data → ml → serving up (each reads the stacks before it), every `pulumi up` with the
policy pack, handing the release's image references in as `$MLRIG_RELEASE_<KIND>_IMAGE` (pipelines/release/images.py):
nothing is written to the checkout's stack config, and each stack keeps the reference it runs as its `image` output.
Before serving moves, the reference it runs now is recorded as a stack tag (`release.previous_tag_key`, kept by the
backend), which `rollback` reads back. Both drive the `pulumi` CLI through a `Runner`, so tests record the exact
commands and answer them without a backend.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import Config
from pipelines.release.images import IMAGE_OUTPUT, release_env

Runner = Callable[[Sequence[str], Path, Mapping[str, str]], subprocess.CompletedProcess]
PROJECTS = ("platform", "data", "ml", "serving")  # dependency order: each reads the stacks before it
POLICY_PACK = "policy"  # beside the projects: infra/policy


class ReleaseError(RuntimeError):
    """A Pulumi command failed, or there is nothing to roll back to; the message says which and what to do."""


def run_pulumi(argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real runner: the `pulumi` CLI on PATH, output captured so errors can quote it."""
    if not cwd.is_dir():
        raise ReleaseError(
            f"no Pulumi project at {cwd}: set release.serving_project in the project config to the serving project"
        )
    try:
        return subprocess.run(
            list(argv), cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
        )
    except FileNotFoundError as err:
        raise ReleaseError(
            "the pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) "
            "or use the pulumi/actions step in CI"
        ) from err


@dataclass(frozen=True)
class DeployResult:
    stack: str
    image: str
    previous_image: str | None
    projects: tuple[str, ...] = ("serving",)

    def summary(self, verb: str = "deployed") -> str:
        before = self.previous_image or "nothing recorded"
        return f"{verb} {self.image} to stack {self.stack} ({', '.join(self.projects)}; serving replaced: {before})"


def infra_dir(config: Config) -> Path:
    """The folder of the Pulumi projects: the serving project's parent (release.serving_project)."""
    project = config.release.serving_project
    return (project if project.is_absolute() else config.source.parent / project).parent


class PulumiStack:
    """One stack of one project, driven through `runner`."""

    def __init__(self, config: Config, stack: str, runner: Runner = run_pulumi, project: str = "serving") -> None:
        serving = config.release.serving_project
        self.cwd = (serving if serving.is_absolute() else config.source.parent / serving).resolve()
        if project != "serving":
            self.cwd = infra_dir(config).resolve() / project
        self.policy_pack = infra_dir(config).resolve() / POLICY_PACK
        self.project = project
        self.stack = stack
        self.settings = config.release
        self.runner = runner

    def _run(self, *args: str, env: Mapping[str, str] | None = None, allow_failure: bool = False):
        argv = ["pulumi", *args, "--stack", self.stack, "--non-interactive"]
        done = self.runner(argv, self.cwd, env or {})
        if done.returncode != 0 and not allow_failure:
            raise ReleaseError(
                f"`{' '.join(argv)}` in {self.cwd} exited {done.returncode}: {(done.stderr or done.stdout).strip()}"
            )
        return done

    def current_image(self) -> str | None:
        """The image reference the stack runs now (its `image` output), or None before the first release."""
        done = self._run("stack", "output", IMAGE_OUTPUT, allow_failure=True)
        return done.stdout.strip() or None if done.returncode == 0 else None

    def recorded_previous_image(self) -> str | None:
        done = self._run("stack", "tag", "get", self.settings.previous_tag_key, allow_failure=True)
        return done.stdout.strip() or None if done.returncode == 0 else None

    def record_previous_image(self, image: str) -> None:
        self._run("stack", "tag", "set", self.settings.previous_tag_key, image)

    def up(self, images: Mapping[str, str], message: str) -> None:
        policy = ("--policy-pack", str(self.policy_pack)) if self.policy_pack.is_dir() else ()
        self._run("up", "--yes", "--skip-preview", *policy, "--message", message, env=release_env(dict(images)))


def deploy(
    config: Config,
    stack: str,
    images: Mapping[str, str],
    runner: Runner = run_pulumi,
    projects: Sequence[str] = PROJECTS,
) -> DeployResult:
    """Up every project in dependency order with `images` (kind → reference); serving's replaced image recorded first.

    A re-run of the same release keeps the earlier record, so a rollback still goes to the release before it."""
    unknown = [p for p in projects if p not in PROJECTS]
    if unknown:
        raise ReleaseError(f"unknown Pulumi project(s) {', '.join(unknown)}: choose from {', '.join(PROJECTS)}")
    serving_image = images["serving"]
    previous = None
    for project in [p for p in PROJECTS if p in projects]:
        target = PulumiStack(config, stack, runner, project)
        if project == "serving":
            previous = target.current_image()
            if previous and previous != serving_image:
                target.record_previous_image(previous)
            else:
                previous = target.recorded_previous_image()
        target.up(images, f"mlrig: release {serving_image}")
    return DeployResult(stack, serving_image, previous, tuple(p for p in PROJECTS if p in projects))


def rollback(config: Config, stack: str, to_image: str | None = None, runner: Runner = run_pulumi) -> DeployResult:
    """Up serving with the image the last deploy replaced (or `to_image`); records the failed one (a roll-forward)."""
    serving = PulumiStack(config, stack, runner)
    target = to_image or serving.recorded_previous_image()
    if not target:
        raise ReleaseError(
            f"stack {stack} has no previous image recorded ({serving.settings.previous_tag_key}): "
            "nothing to roll back to. Name one with `mlrig rollback --to <image reference>`."
        )
    failed = serving.current_image()
    serving.up({"serving": target}, f"mlrig: roll back to {target}")
    if failed and failed != target:
        serving.record_previous_image(failed)
    return DeployResult(stack, target, failed)
