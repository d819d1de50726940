"""Deploy and rollback drive the pulumi CLI; a recorded runner answers it and keeps every command."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
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
            case ["stack", "output", "imageTag"]:
                return self._answer(self.serving, "current stack does not have output property 'imageTag'")
            case ["stack", "tag", "get", key]:
                return self._answer(self.tags.get(key), f"stack tag '{key}' not found")
            case ["stack", "tag", "set", key, value]:
                self.tags[key] = value
            case ["config", "set", "imageTag", value]:
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


@pytest.fixture
def project_config(config: Config, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the project config whose serving project is an empty folder: (config file, project folder)."""
    project = tmp_path / "serving"
    project.mkdir()
    source = config.source.read_text(encoding="utf-8")
    config_file = tmp_path / "mlrig.toml"
    config_file.write_text(source.replace('serving_project = "infra/serving"', f'serving_project = "{project}"'))
    return config_file, project


@pytest.mark.parametrize("command", [["rollback"], ["deploy", "--tag", "abc"]])
def test_cli_without_pulumi_fails_with_a_message(
    command: list[str], project_config: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    args = [*command, "--stack", "staging", "--config", str(project_config[0])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "pulumi CLI is not on PATH" in result.output


FAKE_PULUMI = """#!/bin/sh
# A stand-in `pulumi` on PATH: logs where and how it was called, serves image aaa111, has no stack tags.
echo "$PWD|$*" >> "$PULUMI_LOG"
case "$*" in
  "stack output imageTag "*) echo aaa111 ;;
  "stack tag get "*) echo "error: stack tag not found" >&2; exit 255 ;;
esac
"""


def test_cli_deploy_drives_the_pulumi_on_path_in_the_serving_project(
    project_config: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file, project = project_config
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("PULUMI_LOG", str(tmp_path / "calls.log"))

    result = CliRunner().invoke(app, ["deploy", "--config", str(config_file), "--stack", "staging", "--tag", "bbb"])

    assert result.exit_code == 0, result.output
    assert "deployed bbb to stack staging (it replaced: aaa111)" in result.output
    calls = (tmp_path / "calls.log").read_text().splitlines()
    suffix = "--stack staging --non-interactive"
    assert calls == [
        f"{project}|stack output imageTag {suffix}",
        f"{project}|stack tag set mlrig:previous-image-tag aaa111 {suffix}",
        f"{project}|config set imageTag bbb {suffix}",
        f"{project}|up --yes --skip-preview --message mlrig: serve image bbb {suffix}",
    ]


def test_a_missing_serving_project_is_named(config: Config, tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match=r"no Pulumi project at .*release\.serving_project"):
        run_pulumi(["pulumi", "version"], tmp_path / "absent")
