"""The rehearsal's environments: the `staging` and `prod` stacks of the four projects on the local cluster.

The shipped stack files (infra/*/Pulumi.<stack>.yaml) size staging and prod for a real cluster (prod: 3 replicas at
1 CPU each); the rehearsal's node is one small machine. So the rehearsal writes an override on top of them in its
throwaway clone, and commits it there, as an operator commits an environment's config (docs/cicd.md lists it):
OVERRIDES (sizes of dev, the object store's stand-in image, schedules that cannot fire during a run, a short
rollout deadline) plus the secrets each stack needs. The shipped files are never changed, and the
override keeps the project's own rules (ci.yml's `make test` runs in that clone: prod keeps two replicas).

Every Pulumi command here runs as the runner user, with the same environment the `pulumi/actions` stand-in gives a
job (the CLI built from Go modules, the 3.68 language host's shim), so the jobs act runs later find the same state.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tools.act.run import PASSED_ENV

PROJECTS = ("platform", "data", "ml", "serving")
STACKS = ("staging", "prod")
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROD_REPLICAS = "2"  # tests/unit/infra: a production stack runs at least two replicas (and a PDB)
NEVER = "0 0 1 1 *"  # 1 January, 00:00: no scheduled Job competes with the rehearsal for the node
# What the rehearsal changes in the shipped stack files, and why (one small node; no MinIO image here).
OVERRIDES: dict[str, dict[str, str]] = {
    "platform": {"storeSize": "1Gi"},  # + storeImage/storeClientImage: the object store's stand-in image
    "data": {
        **{f"{stage}Schedule": NEVER for stage in ("ingest", "refine", "features", "report")},
        "jobCpu": "100m",
        "jobMemory": "256Mi",
    },
    # retrainSchedule stays as shipped: the project's own tests hold it to the monitoring cadence (it may fire
    # during a run; its Job needs no more than the node has)
    "ml": {"trainSchedule": NEVER, "trainCpu": "250m", "trainMemory": "512Mi"},
    "serving": {
        "replicas": "1",  # prod: 2 (PROD_REPLICAS), the least the project's own rules allow a production stack
        "maxReplicas": "3",  # above prod's two (the HPA must have room to scale)
        "servingCpu": "250m",
        "servingMemory": "512Mi",
        "servingCpuLimit": "1",
        "servingMemoryLimit": "1Gi",
        "rolloutTimeoutSeconds": "180",  # a release that never turns ready fails in 3 min, not the default's
    },
}


@dataclass
class Environment:
    """One stack's secrets, made here: the platform's, and the API key the serving stack holds (CD's
    MLRIG_API_KEY secret for that environment)."""

    stack: str
    api_key: str = field(default_factory=lambda: secrets.token_hex(24))
    platform_secrets: dict[str, str] = field(
        default_factory=lambda: {
            "storeAccessKey": secrets.token_hex(8),
            "storeSecretKey": secrets.token_hex(24),
            "piiKey": secrets.token_hex(24),
        }
    )


@dataclass
class Runner:
    """Commands as the runner user in the rehearsal's clone, with a deploy job's Pulumi environment."""

    user: str
    clone: Path
    tools_bin: Path
    state: Path
    kubeconfig: Path
    passphrase: str

    def env(self) -> dict[str, str]:
        passed = {name: os.environ[name] for name in PASSED_ENV if name in os.environ and name != "PATH"}
        return {
            **passed,
            "PATH": f"{self.tools_bin}:{self.clone / '.venv/bin'}:{SYSTEM_PATH}",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
            "PULUMI_PYTHON_CMD": str(self.clone / "tools/pulumi-python"),
            "MLRIG_PYTHON": str(self.clone / ".venv/bin/python"),
            "MLRIG_POLICY_PACK": str(self.clone / "infra/policy"),
            "PULUMI_BACKEND_URL": f"file://{self.state}",
            "PULUMI_CONFIG_PASSPHRASE": self.passphrase,
            "KUBECONFIG": str(self.kubeconfig),
            "BENTOML_DO_NOT_TRACK": "true",
        }

    def run(
        self, *argv: str, cwd: Path | None = None, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`argv` as the runner; values (the passphrase, secrets) travel in the environment or on stdin, never in
        the command line another user's `ps` shows."""
        env = self.env()
        command = list(argv)
        if self.user:
            # sudo's secure_path would replace PATH: set it again inside (it holds no secret)
            keep = ",".join(name for name in env if name != "PATH")
            command = [
                "sudo",
                "-n",
                "-u",
                self.user,
                "-H",
                f"--preserve-env={keep}",
                "env",
                f"PATH={env['PATH']}",
                *command,
            ]
        done = subprocess.run(
            command, cwd=cwd or self.clone, env={**os.environ, **env}, input=stdin, capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(argv)}` as {self.user or 'me'} exited {done.returncode}:\n"
                f"{(done.stdout + done.stderr)[-4000:]}"
            )
        return done

    def pulumi(self, project: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        cwd = self.clone / "infra" / project
        return self.run(str(self.tools_bin / "pulumi"), *args, "--non-interactive", cwd=cwd, stdin=stdin)


def configure(runner: Runner, env: Environment, store_image: str) -> None:
    """`pulumi stack init` of every project on env.stack in the clone's backend; OVERRIDES written over the shipped
    values into the clone's Pulumi.<stack>.yaml (one write, not a CLI call per key); secrets through the CLI."""
    import yaml

    for project in PROJECTS:
        runner.pulumi(project, "stack", "init", env.stack, "--secrets-provider", "passphrase")
        values = dict(OVERRIDES[project])
        if project == "serving" and env.stack == "prod":
            values["replicas"] = PROD_REPLICAS
        if project == "platform":
            values |= {"storeImage": store_image, "storeClientImage": store_image}
        path = runner.clone / "infra" / project / f"Pulumi.{env.stack}.yaml"
        settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        name = yaml.safe_load((path.parent / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
        settings.setdefault("config", {}).update({f"{name}:{key}": value for key, value in values.items()})
        runner.run("tee", str(path), stdin=yaml.safe_dump(settings, sort_keys=False))  # the runner owns the clone
        hidden = {"platform": env.platform_secrets, "serving": {"apiKeys": env.api_key}}.get(project, {})
        for key, value in hidden.items():
            runner.pulumi(project, "config", "set", "--stack", env.stack, "--secret", key, stdin=value)
