"""Run a workflow file with act, on this host, as the non-root runner user, with the stand-ins of
tools/act/stand-ins.toml for marketplace actions (docs/cicd.md).

    python -m tools.act.run .github/workflows/ci.yml --event pull_request --out .cache/act/ci [--job test] ...

The workflow file runs unchanged: each `uses: owner/action@<sha>` is redirected with act's
`--local-repository owner/action@<sha>=tools/act/actions/<dir>`, the SHA read from the workflows themselves, and
`ubuntu-*` runners map to the host (`-self-hosted`). A `uses:` with no stand-in is an error before act starts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
USES = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@([0-9a-f]{40})", re.MULTILINE)
RUNNER_USER = "mlrig-runner"  # GitHub's hosted jobs run as `runner`, non-root, with passwordless sudo
HOST_LABELS = ("ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04")


@dataclass(frozen=True)
class StandIn:
    action: str
    dir: str
    replaces: str
    local: str


def stand_ins(path: Path = HERE / "stand-ins.toml") -> dict[str, StandIn]:
    entries = tomllib.loads(path.read_text(encoding="utf-8"))["stand-in"]
    return {entry["action"]: StandIn(**entry) for entry in entries}


def pinned_actions(workflows: list[Path]) -> set[tuple[str, str]]:
    """Every (owner/action, sha) the workflow files use."""
    return {match for wf in workflows for match in USES.findall(wf.read_text(encoding="utf-8"))}


def local_repository_flags(workflows: list[Path]) -> list[str]:
    known = stand_ins()
    flags: list[str] = []
    missing = sorted({action for action, _ in pinned_actions(workflows) if action not in known})
    if missing:
        raise SystemExit(f"no stand-in for {', '.join(missing)}: add it to {HERE / 'stand-ins.toml'}")
    for action, sha in sorted(pinned_actions(workflows)):
        flags += ["--local-repository", f"{action}@{sha}={HERE / 'actions' / known[action].dir}"]
    return flags


def act_command(args: argparse.Namespace, act: Path) -> list[str]:
    workflows = sorted((args.repo / ".github" / "workflows").glob("*.yml"))
    command = [str(act), args.event, "-W", str(args.workflow), "-e", str(args.event_file)]
    for label in HOST_LABELS:
        command += ["-P", f"{label}=-self-hosted"]
    command += local_repository_flags(workflows)
    env = {
        "MLRIG_ACT_ARTIFACTS": str(args.out / "artifacts"),
        "MLRIG_ACT_OUT": str(args.out),
        "MLRIG_ACT_TOOLS": str(HERE),
        "MLRIG_TOOLS_BIN": str(args.tools_bin),
        **dict(pair.split("=", 1) for pair in args.env),
    }
    for key, value in env.items():
        command += ["--env", f"{key}={value}"]
    for pair in args.var:
        command += ["--var", pair]
    for name in args.secret:  # values from this process's environment: never on the command line
        command += ["--secret", name]
    for job in args.job:
        command += ["-j", job]
    if args.act_cache:  # the jobs' workspaces (hostexecutor copies) under a folder of this run, not ~/.cache/act
        command += ["--action-cache-path", str(args.act_cache)]
    return [*command, "--no-cache-server", "--action-offline-mode"]


def as_runner(command: list[str], user: str) -> list[str]:
    """The command as the non-root runner user (with its own HOME), or itself when `user` is empty."""
    if not user:
        return command
    return ["sudo", "-n", "-u", user, "-H", "--preserve-env=" + ",".join(_passed_env()), *command]


# What the runner keeps from this machine's environment: its PATH, the secrets act reads by name, and the CA
# settings (this machine's TLS is intercepted: a self-hosted runner here needs the same trust store).
PASSED_ENV = ("PATH", "PULUMI_CONFIG_PASSPHRASE", "MLRIG_API_KEY", "KUBECONFIG", "SSL_CERT_FILE", "SSL_CERT_DIR",
              "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT", "GIT_SSL_CAINFO", "AWS_CA_BUNDLE",
              "NODE_EXTRA_CA_CERTS", "PIP_FIND_LINKS", "PIP_DEFAULT_TIMEOUT", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
              "http_proxy", "https_proxy", "no_proxy")  # fmt: skip


def _passed_env() -> list[str]:
    return [name for name in PASSED_ENV if name in os.environ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workflow", type=Path)
    parser.add_argument("--event", default="pull_request")
    parser.add_argument("--event-file", type=Path, help="event JSON (default: a minimal one for --event)")
    parser.add_argument("--out", type=Path, required=True, help="artifacts, the PR comment, the act log")
    parser.add_argument("--tools-bin", type=Path, required=True, help="where the built pulumi and act are")
    parser.add_argument("--act", type=Path, help="the act binary (default: <tools-bin>/act)")
    parser.add_argument("--job", action="append", default=[])
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for every step")
    parser.add_argument("--var", action="append", default=[], help="KEY=VALUE as ${{ vars.KEY }}")
    parser.add_argument("--secret", action="append", default=[], help="NAME, value from this environment")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the repository act runs (default: this one)")
    parser.add_argument("--act-cache", type=Path, help="act's --action-cache-path (default: ~/.cache/act)")
    parser.add_argument("--user", default=RUNNER_USER, help="run as this non-root user ('' = as myself)")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    (args.out / "artifacts").mkdir(parents=True, exist_ok=True)
    if args.event_file is None:
        args.event_file = args.out / f"{args.event}.json"
        args.event_file.write_text(json.dumps(default_event(args.event)), encoding="utf-8")
    command = as_runner(act_command(args, args.act or args.tools_bin / "act"), args.user)
    print("act:", " ".join(command), flush=True)
    return subprocess.run(command, cwd=args.repo, check=False).returncode


def default_event(event: str) -> dict:
    """A minimal event: a same-repository pull request (so the comment step runs), or a push to main."""
    repo = {"full_name": "mlrig/mlrig"}
    if event == "pull_request":
        return {"pull_request": {"number": 1, "head": {"ref": "feature", "repo": repo}, "base": {"ref": "main"}},
                "repository": repo}  # fmt: skip
    return {"ref": "refs/heads/main", "repository": repo}


if __name__ == "__main__":
    sys.exit(main())
