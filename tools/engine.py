"""The Pulumi engine that build-tools.sh builds, run the way the e2e tests and smoke.py need it.

The environment is the whole trick: the CLI, language host and provider come from the tools dir, plugin downloads
and update checks are off (nothing may be fetched), state lives in a local file backend, and the project's venv
runs the programs through `pulumi-python` (tools/README.md says why the 3.68 language host needs it).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class Run:
    """One finished `pulumi` command: what it printed and how long it took."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class PulumiError(RuntimeError):
    def __init__(self, run: Run) -> None:
        super().__init__(f"pulumi {' '.join(run.args)} exited {run.returncode}:\n{run.output[-6000:]}")
        self.run = run


@dataclass
class PulumiEngine:
    tools_dir: Path  # build-tools.sh --print-dir
    state_dir: Path  # the file backend (`pulumi login file://…`)
    python: Path  # the venv whose packages the programs and the policy pack import
    passphrase: str  # the passphrase secrets provider's key for this throwaway state
    kubeconfig: Path | None = None  # the cluster the default Kubernetes provider talks to
    policy_pack: Path | None = None
    history: list[Run] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "KUBECONFIG", "VIRTUAL_ENV"))}
        env.update(
            PATH=f"{self.tools_dir / 'bin'}:{self.python.parent}:{env.get('PATH', '/usr/bin:/bin')}",
            PULUMI_HOME=str(self.tools_dir / "pulumi-home"),
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            PULUMI_DISABLE_REGISTRY_RESOLVE="true",
            PULUMI_IGNORE_AMBIENT_PLUGINS="true",  # the provider binary is also on PATH: use the installed plugin
            PULUMI_CONFIG_PASSPHRASE=self.passphrase,
            PULUMI_BACKEND_URL=f"file://{self.state_dir}",
            PULUMI_PYTHON_CMD=str(HERE / "pulumi-python"),
            MLRIG_PYTHON=str(self.python),
        )
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        if self.policy_pack is not None:
            env["MLRIG_POLICY_PACK"] = str(self.policy_pack)
        return env

    def __call__(self, cwd: Path, *args: str, check: bool = True, timeout: float = 900) -> Run:
        """Run `pulumi ARGS --non-interactive` in the project at `cwd`; raise PulumiError on failure when `check`."""
        start = time.monotonic()
        done = subprocess.run(
            [str(self.tools_dir / "bin" / "pulumi"), *args, "--non-interactive"],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        run = Run(tuple(args), done.returncode, done.stdout, done.stderr, time.monotonic() - start)
        self.history.append(run)
        if check and run.returncode != 0:
            raise PulumiError(run)
        return run

    def login(self) -> Run:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return self(self.state_dir, "login", f"file://{self.state_dir}")
