"""Deploy and rollback drive the pulumi CLI; a recorded runner answers it per project and keeps every command."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.config import Config
from pipelines.release.deploy import PROJECTS, ReleaseError, deploy, rollback, run_pulumi
from pipelines.release.images import RELEASE_ENV
from tests.conftest import explain

PREVIOUS_KEY = "mlrig:previous-image-tag"
DIGEST = "sha256:" + "1f" * 32


def ref(tag: str, kind: str = "serving") -> str:
    name = "churn-scorer" if kind == "serving" else "mlrig-pipeline"
    return f"ghcr.io/mlrig/{name}:{tag}"


def release(tag: str) -> dict[str, str]:
    return {"serving": ref(tag), "pipeline": ref(tag, "pipeline")}


class RecordedPulumi:
    """A fake `pulumi` with each project's state (the image it runs) and serving's stack tags."""

    def __init__(self, serving: str | None = None, previous: str | None = None, fail_up: str | None = None) -> None:
        self.running: dict[str, str | None] = {"serving": serving}
        self.tags = {PREVIOUS_KEY: previous} if previous else {}
        self.fail_up = fail_up  # the project whose `up` fails
        self.calls: list[tuple[str, list[str], dict]] = []

    def __call__(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess:
        argv, project = list(argv), cwd.name
        self.calls.append((project, argv, dict(env)))
        assert argv[0] == "pulumi" and argv[-3:-1] == ["--stack", "staging"] and argv[-1] == "--non-interactive"
        match argv[1:-3]:
            case ["stack", "output", "image"]:
                return self._answer(self.running.get(project), "current stack does not have output property 'image'")
            case ["stack", "tag", "get", key]:
                return self._answer(self.tags.get(key), f"stack tag '{key}' not found")
            case ["stack", "tag", "set", key, value]:
                self.tags[key] = value
            case ["up", "--yes", "--skip-preview", "--policy-pack", pack, "--message", _]:
                assert Path(pack).name == "policy" and Path(pack).is_dir()
                if project == self.fail_up:
                    return subprocess.CompletedProcess(argv, 255, "", "error: update failed")
                if project != "platform":  # platform runs none of our images
                    kind = "serving" if project == "serving" else "pipeline"
                    self.running[project] = env.get(RELEASE_ENV[kind], self.running.get(project))
            case _:
                raise AssertionError(f"unexpected pulumi command: {argv}")
        return subprocess.CompletedProcess(argv, 0, "", "")

    @staticmethod
    def _answer(value: str | None, error: str) -> subprocess.CompletedProcess:
        if value is None:
            return subprocess.CompletedProcess([], 255, "", f"error: {error}")
        return subprocess.CompletedProcess([], 0, f"{value}\n", "")

    def ups(self) -> list[str]:
        return [project for project, argv, _ in self.calls if argv[1] == "up"]


def test_deploy_ups_every_project_in_dependency_order_with_the_policy_pack(config: Config) -> None:
    pulumi = RecordedPulumi(serving=ref("aaa111"))
    result = deploy(config, "staging", release("bbb222"), pulumi)

    assert pulumi.ups() == ["platform", "data", "ml", "serving"] == list(PROJECTS)
    assert pulumi.running == {
        "serving": ref("bbb222"),
        "data": ref("bbb222", "pipeline"),
        "ml": ref("bbb222", "pipeline"),
    }
    assert result.previous_image == ref("aaa111") and pulumi.tags[PREVIOUS_KEY] == ref("aaa111")
    serving_calls = [argv[1:3] for project, argv, _ in pulumi.calls if project == "serving"]
    assert serving_calls.index(["stack", "tag"]) < serving_calls.index(["up", "--yes"])  # recorded first
    assert not any(argv[1] == "config" for _, argv, _ in pulumi.calls)  # nothing written to the checkout


def test_first_deploy_records_nothing_and_still_ups(config: Config) -> None:
    pulumi = RecordedPulumi(serving=None)
    result = deploy(config, "staging", release("bbb222"), pulumi)
    assert pulumi.running["serving"] == ref("bbb222") and pulumi.tags == {} and result.previous_image is None


def test_redeploying_the_same_release_keeps_the_recorded_previous_image(config: Config) -> None:
    pulumi = RecordedPulumi(serving=ref("bbb222"), previous=ref("aaa111"))
    result = deploy(config, "staging", release("bbb222"), pulumi)
    assert pulumi.tags[PREVIOUS_KEY] == ref("aaa111") and result.previous_image == ref("aaa111")


def test_a_failed_platform_up_stops_before_serving_moves(config: Config) -> None:
    pulumi = RecordedPulumi(serving=ref("aaa111"), fail_up="data")
    with pytest.raises(ReleaseError, match="exited 255: error: update failed"):
        deploy(config, "staging", release("bbb222"), pulumi)
    assert pulumi.ups() == ["platform", "data"] and pulumi.running["serving"] == ref("aaa111")


def test_rollback_ups_serving_with_the_recorded_image_and_records_the_failed_one(config: Config) -> None:
    pulumi = RecordedPulumi(serving=ref("aaa111"))
    deploy(config, "staging", release("bad333"), pulumi)
    before = len(pulumi.calls)
    result = rollback(config, "staging", runner=pulumi)

    assert pulumi.running["serving"] == ref("aaa111")
    assert result.image == ref("aaa111") and result.previous_image == ref("bad333")
    assert pulumi.tags[PREVIOUS_KEY] == ref("bad333")  # `mlrig rollback` again rolls forward
    assert {project for project, argv, _ in pulumi.calls[before:] if argv[1] == "up"} == {"serving"}


def test_rollback_to_an_explicit_image(config: Config) -> None:
    pulumi = RecordedPulumi(serving=ref("bad333"), previous=ref("aaa111"))
    rollback(config, "staging", to_image=ref("zzz000"), runner=pulumi)
    assert pulumi.running["serving"] == ref("zzz000")


def test_rollback_without_a_recorded_image_refuses_and_changes_nothing(config: Config) -> None:
    pulumi = RecordedPulumi(serving=ref("bad333"))
    with pytest.raises(ReleaseError, match="nothing to roll back to"):
        rollback(config, "staging", runner=pulumi)
    assert pulumi.ups() == []


def test_a_release_with_latest_is_refused_before_any_up(config: Config) -> None:
    pulumi = RecordedPulumi()
    with pytest.raises(ValueError, match="latest"):
        deploy(config, "staging", {"serving": ref("latest"), "pipeline": ref("x", "pipeline")}, pulumi)
    assert pulumi.ups() == []


def test_the_real_runner_names_a_missing_pulumi_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ReleaseError, match="pulumi CLI is not on PATH"):
        run_pulumi(["pulumi", "version"], tmp_path)


def test_the_real_runner_returns_the_exit_code_and_passes_the_environment(tmp_path: Path) -> None:
    done = run_pulumi(["sh", "-c", 'echo "$X"; echo err >&2; exit 3'], tmp_path, {"X": "out"})
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


@pytest.fixture
def project_config(config: Config, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the project config whose projects are empty folders under tmp: (config file, infra folder)."""
    infra = tmp_path / "infra"
    for project in (*PROJECTS, "policy"):
        (infra / project).mkdir(parents=True)
    source = config.source.read_text(encoding="utf-8")
    config_file = tmp_path / "mlrig.toml"
    config_file.write_text(source.replace('serving_project = "infra/serving"', f'serving_project = "{infra}/serving"'))
    return config_file, infra


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
# A stand-in `pulumi` on PATH: logs where, how and with which release it was called; serving runs aaa111.
echo "$(basename "$PWD")|$*|$MLRIG_RELEASE_SERVING_IMAGE|$MLRIG_RELEASE_PIPELINE_IMAGE" >> "$PULUMI_LOG"
case "$*" in
  "stack output image "*) echo ghcr.io/mlrig/churn-scorer:aaa111 ;;
  "stack tag get "*) echo "error: stack tag not found" >&2; exit 255 ;;
esac
"""


def test_cli_deploy_builds_the_references_and_drives_the_pulumi_on_path(
    project_config: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_file, infra = project_config
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("PULUMI_LOG", str(tmp_path / "calls.log"))
    args = ["deploy", "--config", str(config_file), "--stack", "staging", "--tag", "bbb", "--serving-digest", DIGEST]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, explain(result)
    serving = f"ghcr.io/mlrig/churn-scorer:bbb@{DIGEST}"
    assert f"deployed {serving} to stack staging" in result.output
    calls = (tmp_path / "calls.log").read_text().splitlines()
    suffix = "--stack staging --non-interactive"
    up = f"up --yes --skip-preview --policy-pack {infra.resolve()}/policy --message mlrig: release {serving} {suffix}"
    release_env = f"{serving}|ghcr.io/mlrig/mlrig-pipeline:bbb"
    assert calls == [
        f"platform|{up}|{release_env}",
        f"data|{up}|{release_env}",
        f"ml|{up}|{release_env}",
        f"serving|stack output image {suffix}||",
        f"serving|stack tag set mlrig:previous-image-tag ghcr.io/mlrig/churn-scorer:aaa111 {suffix}||",
        f"serving|{up}|{release_env}",
    ]


def test_a_missing_serving_project_is_named(config: Config, tmp_path: Path) -> None:
    with pytest.raises(ReleaseError, match=r"no Pulumi project at .*release\.serving_project"):
        run_pulumi(["pulumi", "version"], tmp_path / "absent")


def test_a_failed_up_whose_output_has_brackets_is_reported_not_a_traceback(
    project_config: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pulumi's output names paths in brackets ("policy pack [/…/infra/policy] failed"); printed as console markup it
    crashed `mlrig deploy` with a MarkupError traceback (found by the rehearsal). It must print as text, exit 1."""
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'error: policy pack [/x/infra/policy] failed to start' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    result = CliRunner().invoke(
        app, ["deploy", "--tag", "abc", "--stack", "staging", "--config", str(project_config[0])]
    )
    assert result.exit_code == 1, result.output
    assert "policy pack [/x/infra/policy] failed to start" in " ".join(result.output.split())
