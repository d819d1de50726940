"""cd.yml's deploy jobs, each run on its own with the release job's outputs fed in.

act has no per-environment variables (GitHub gives `vars.SERVING_URL` and `secrets.MLRIG_API_KEY` a value per
environment: staging's and production's differ), and `act -j staging` also runs every job it `needs`. So the
rehearsal runs `release` once from cd.yml itself, then each deploy job from a workflow derived from cd.yml in which
that job is copied unchanged (steps, env, environment, concurrency) and the jobs it needs are stubs whose outputs
are what the real release run produced. Each run gets its environment's URL and key.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

RUNS_ON = "ubuntu-24.04"


def load(workflow: Path) -> dict:
    data = yaml.safe_load(workflow.read_text(encoding="utf-8"))  # anchors (`*deploy-steps`) come out expanded
    if True in data:  # YAML 1.1 reads the `on:` key as a boolean; keep it where it was (after `name`)
        data = {("on" if key is True else key): value for key, value in data.items()}
    return data


def stub(outputs: dict[str, str], needs: list[str] | None, said: str) -> dict:
    job: dict = {"runs-on": RUNS_ON, "steps": [{"name": "fed in by the rehearsal", "run": f"echo {shlex.quote(said)}"}]}
    if needs:
        job["needs"] = needs
    if outputs:
        job["outputs"] = outputs
    return job


def deploy_job_workflow(cd: Path, job: str, release_outputs: dict[str, str], into: Path) -> Path:
    """A copy of `cd` whose `job` runs unchanged and whose other needed jobs are stubs (release: its outputs)."""
    data = load(cd)
    jobs = data["jobs"]
    wanted = jobs[job]
    needs = wanted.get("needs", [])
    needs = [needs] if isinstance(needs, str) else list(needs)
    derived = {}
    for name in needs:
        if name == "release":
            derived[name] = stub(release_outputs, None, "outputs of this rehearsal's cd.yml release run")
        else:
            upstream = jobs[name].get("needs")
            derived[name] = stub(
                {}, [upstream] if isinstance(upstream, str) else upstream, f"{name} passed earlier in this rehearsal"
            )
    derived[job] = wanted
    data["jobs"] = derived
    into.parent.mkdir(parents=True, exist_ok=True)
    into.write_text(
        f"# Derived from {cd.name} by tools/rehearsal/workflows.py: `{job}` unchanged, the jobs it needs stubbed.\n"
        + yaml.safe_dump(data, sort_keys=False, width=200),
        encoding="utf-8",
    )
    return into


def read_outputs(path: Path) -> dict[str, str]:
    """`key=value` lines (what `make release-images` writes to $GITHUB_OUTPUT and its release env file)."""
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}
