"""Deploy and rollback drive the pulumi CLI; a recorded runner answers it and keeps every command."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import Config
from pipelines.release.deploy import PulumiStack, ReleaseError, deploy, rollback, run_pulumi

PREVIOUS_KEY = "mlrig:previous-image-tag"


class RecordedPulumi:
    """A fake `pulumi` with one stack's state: its image output and its stack tags. Records every argv."""

    def __init__(self, serving: str | None = None, previous: str | None = None, fail_up: bool = False) -> None:
        self.serving = serving
        self.tags = {PREVIOUS_KEY: previous} if previous else {}
        self.pending: str | None = None
        self.fail_up = fail_up
        self.calls: list[list[str]] = []
        self.cwds: list[Path] = []

    def __call__(self, argv: Sequence[str], cwd: Path) -> subprocess.CompletedProcess:
        argv = list(argv)
        self.calls.append(argv)
        self.cwds.append(cwd)
        assert argv[0] == "pulumi" and argv[-3:-1] == ["--stack", "staging"] and argv[-1] == "--non-interactive"
        args = argv[1:-3]
        match args:
            case ["stack", "output", "image_tag"]:
                return self._answer(self.serving, "current stack does not have output property 'image_tag'")
            case ["stack", "tag", "get", key]:
                return self._answer(self.tags.get(key), f"stack tag '{key}' not found")
            case ["stack", "tag", "set", key, value]:
                self.tags[key] = value
            case ["config", "set", "image_tag", value]:
                self.pending = value
            case ["up", "--yes", "--skip-preview", "--message", _]:
                if self.fail_up:
                    return subprocess.CompletedProcess(argv, 255, "", "error: update failed")
                self.serving = self.pending
            case _:
                raise AssertionError(f"unexpected pulumi command: {argv}")
        return subprocess.CompletedProcess(argv, 0, "", "")

    @staticmethod
    def _answer(value: str | None, error: str) -> subprocess.CompletedProcess:
        if value is None:
            return subprocess.CompletedProcess([], 255, "", f"error: {error}")
        return subprocess.CompletedProcess([], 0, f"{value}\n", "")


def test_deploy_records_the_tag_it_replaces_then_ups_the_new_one(config: Config) -> None:
    pulumi = RecordedPulumi(serving="aaa111")
    result = deploy(PulumiStack(config, "staging", pulumi), "bbb222")

    assert pulumi.serving == "bbb222"
    assert pulumi.tags[PREVIOUS_KEY] == "aaa111"
    assert result.previous_tag == "aaa111"
    ops = [call[1:3] for call in pulumi.calls]
    assert ops.index(["stack", "tag"]) < ops.index(["up", "--yes"])  # recorded before anything changes
    assert all(cwd == config.source.parent / "infra/serving" for cwd in pulumi.cwds)


def test_first_deploy_records_nothing_and_still_ups(config: Config) -> None:
    pulumi = RecordedPulumi(serving=None)
    result = deploy(PulumiStack(config, "staging", pulumi), "bbb222")
    assert pulumi.serving == "bbb222" and pulumi.tags == {} and result.previous_tag is None


def test_redeploying_the_same_tag_keeps_the_recorded_previous_tag(config: Config) -> None:
    pulumi = RecordedPulumi(serving="bbb222", previous="aaa111")
    result = deploy(PulumiStack(config, "staging", pulumi), "bbb222")
    assert pulumi.tags[PREVIOUS_KEY] == "aaa111" and result.previous_tag == "aaa111"


def test_rollback_ups_the_recorded_tag_and_records_the_failed_one(config: Config) -> None:
    pulumi = RecordedPulumi(serving="aaa111")
    stack = PulumiStack(config, "staging", pulumi)
    deploy(stack, "bad333")
    result = rollback(stack)

    assert pulumi.serving == "aaa111"
    assert result.tag == "aaa111" and result.previous_tag == "bad333"
    assert pulumi.tags[PREVIOUS_KEY] == "bad333"  # `mlrig rollback` again rolls forward


def test_rollback_to_an_explicit_tag(config: Config) -> None:
    pulumi = RecordedPulumi(serving="bad333", previous="aaa111")
    rollback(PulumiStack(config, "staging", pulumi), to_tag="zzz000")
    assert pulumi.serving == "zzz000"


def test_rollback_without_a_recorded_tag_refuses_and_changes_nothing(config: Config) -> None:
    pulumi = RecordedPulumi(serving="bad333")
    with pytest.raises(ReleaseError, match="nothing to roll back to"):
        rollback(PulumiStack(config, "staging", pulumi))
    assert not any(call[1] in ("up", "config") for call in pulumi.calls)


def test_a_failed_pulumi_up_is_an_error_quoting_pulumi(config: Config) -> None:
    pulumi = RecordedPulumi(serving="aaa111", fail_up=True)
    with pytest.raises(ReleaseError, match="exited 255: error: update failed"):
        deploy(PulumiStack(config, "staging", pulumi), "bbb222")


def test_the_real_runner_names_a_missing_pulumi_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ReleaseError, match="pulumi CLI is not on PATH"):
        run_pulumi(["pulumi", "version"], tmp_path)


def test_the_real_runner_returns_the_exit_code(tmp_path: Path) -> None:
    done = run_pulumi(["sh", "-c", "echo out; echo err >&2; exit 3"], tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


def test_cli_rollback_without_pulumi_fails_with_a_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(app, ["rollback", "--stack", "staging"])
    assert result.exit_code == 1
    assert "pulumi CLI is not on PATH" in result.output


def test_cli_deploy_without_pulumi_fails_with_a_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(app, ["deploy", "--stack", "staging", "--tag", "abc"])
    assert result.exit_code == 1
    assert "pulumi CLI is not on PATH" in result.output
