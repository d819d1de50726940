"""Play a repository's life with the workflow files themselves, run by act as the non-root runner, on the local
cluster with a real node (tools/cluster.py; docs/cicd.md has the table of what ran and what stood in):

0. environments: the cluster, its registry (the node mirrors [images] registry from it), `staging` and `prod` stacks
   configured for it (tools/rehearsal/stacks.py: the override) and running the previous release (the e2e's
   content-hashed images, reused from the engine when present), brought up by `mlrig deploy` as an operator would;
   and the lake the release packages its champion from (stand-in for the cluster's lake: `make data-check bento`);
1. pull request: ci.yml on a pull_request event (every job, or --pr-jobs), a preview of every stack with the
   policy pack (the preview job once per stack), the PR comment with the gate's verdict;
2. merge: cd.yml's release job (champion packaged, both images built and pushed, digests as outputs), then its
   staging and production jobs (`make deploy`, smoke with the environment's key through the Service), each fed the
   release's outputs (tools/rehearsal/workflows.py says why); checked: both Services answer from the new image;
3. a merge whose image fails smoke: release, staging fails smoke, cd.yml's rollback step runs; checked: staging
   serves the previous image again, production's job does not run and prod's image is unchanged;
4. a challenger that fails the gate: ci.yml fails at `make bento` and its comment says FAIL; cd.yml's release job
   packages nothing from a lake without a champion: nothing is pushed.

Each phase's result goes to <out>/report.json and a table; a job not run says so, with why. Exits 1 when any phase
did not do what it should.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from pipelines.release.images import image_name
from tools import objstore
from tools.act import run as act
from tools.rehearsal import repo, stacks, workflows
from tools.rehearsal.forward import Forwarder
from tools.rehearsal.ingress import IngressStatus

ROOT = Path(__file__).resolve().parents[2]
# the challenger's change: a gate no model on this data passes
IMPOSSIBLE_GATE = ("min_metrics = { roc_auc = 0.75, f1 = 0.3 }", "min_metrics = { roc_auc = 0.999, f1 = 0.3 }")
# the bad merge's change: every /score fails while /readyz still answers (a regression smoke must catch)
REGRESSION = """

def _regression(self, *args, **kwargs):  # the rehearsal's bad merge (tools/rehearsal): scoring always fails
    raise RuntimeError("a scoring regression merged to main")


Scoring.score = _regression
"""
REHEARSAL_PII_KEY = "rehearsal-only-pii-key-0123456789abcdef"  # a throwaway lake's key, nothing real in it
STORE_PV = "mlrig-rehearsal-store"
STORE_PATH = "/var/lib/mlrig-rehearsal-store"


@dataclass
class Phase:
    name: str
    expected: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class Release:
    tag: str
    outputs: dict[str, str]

    @property
    def serving(self) -> str:
        return self.outputs["serving-image"]


def log(message: str) -> None:
    print(f"[rehearsal {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_act(
    args: argparse.Namespace,
    checkout: Path,
    workflow: Path,
    event: str,
    out: Path,
    *extra: str,
    env: dict[str, str] | None = None,
) -> int:
    """act on `workflow` as the runner, its output in <out>.log; returns act's exit status. `env`: values of the
    secrets named by `--secret` (act reads them from its environment, never from the command line)."""
    argv = [
        str(workflow),
        "--event",
        event,
        "--out",
        str(out),
        "--repo",
        str(checkout),
        "--tools-bin",
        str(args.tools_bin),
        "--user",
        args.user,
        "--act-cache",
        str(args.out / "act-cache"),
        *extra,
    ]
    (out / "artifacts").mkdir(parents=True, exist_ok=True)  # the job's stand-ins write there as the runner
    if args.user:
        subprocess.run(["chown", "-R", f"{args.user}:", str(out)], check=True)
    shown = " ".join(a for a in extra if not a.startswith(("PULUMI", "KUBE")))[:200]
    log(f"act {event} {workflow.name} {shown} → {out}.log")
    started = time.monotonic()
    with out.with_suffix(".log").open("w") as sink:
        sys.stdout.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(sink.fileno(), 1), os.dup2(sink.fileno(), 2)
        before = {k: os.environ.get(k) for k in env or {}}
        os.environ.update(env or {})
        try:
            rc = act.main(argv)
        finally:
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            for key, value in before.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    log(f"  act exit {rc} after {time.monotonic() - started:.0f} s")
    return rc


def comment(out: Path) -> str:
    path = out / "pr-comment-mlrig.md"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def catalog(registry: str) -> list[str]:
    import httpx

    return httpx.get(f"http://{registry}/v2/_catalog", timeout=10).json().get("repositories", [])


def timed(phases: list[Phase], name: str, expected: str, body: Callable[[], tuple[bool, str]]) -> bool:
    log(f"phase: {name}")
    started = time.monotonic()
    try:
        ok, detail = body()
    except Exception as err:
        ok, detail = False, f"{type(err).__name__}: {err}"[-3000:]
    phases.append(Phase(name, expected, ok, time.monotonic() - started, detail))
    log(f"  {'PASS' if ok else 'FAIL'} ({time.monotonic() - started:.0f} s): {detail[:500]}")
    return ok


class Rehearsal:
    def __init__(self, args: argparse.Namespace) -> None:
        from pipelines.config import load_config

        self.args = args
        self.out = args.out
        self.config = load_config(ROOT / "mlrig.toml")
        self.phases: list[Phase] = []
        self.not_run: dict[str, str] = {}
        self.envs = {stack: stacks.Environment(stack) for stack in stacks.STACKS}
        self.passphrase = os.environ.setdefault("PULUMI_CONFIG_PASSPHRASE", secrets.token_urlsafe(16))
        self.state = self.out / "state"
        self.cluster = None
        self.kube = None
        self.push_registry = ""

    # --- shared --------------------------------------------------------------------------------------------------
    def chown(self, *paths: Path) -> None:
        if self.args.user:
            subprocess.run(["chown", "-R", f"{self.args.user}:", *map(str, paths)], check=True)

    def pulumi_flags(self) -> list[str]:
        return [
            "--secret",
            "PULUMI_CONFIG_PASSPHRASE",
            "--env",
            f"PULUMI_BACKEND_URL=file://{self.state}",
            "--env",
            f"KUBECONFIG={self.kubeconfig}",
        ]

    @property
    def kubeconfig(self) -> Path:
        return self.out / "kubeconfig"

    def namespace(self, stack: str) -> str:
        return {"staging": "mlrig-staging", "prod": "mlrig-prod"}[stack]

    def deployed_image(self, stack: str) -> str:
        from kubernetes import client

        apps = client.AppsV1Api(self.kube)
        deployment = apps.read_namespaced_deployment(self.config.serving.service_name, self.namespace(stack))
        return deployment.spec.template.spec.containers[0].image

    def service_url(self, stack: str) -> str:
        return self.cluster.service_url(self.namespace(stack), self.config.serving.service_name)

    def answers(self, stack: str) -> tuple[int, str]:
        """One /score through the stack's Service with its key: (status, model_version or the body)."""
        import httpx

        from pipelines.contract import example_request

        record = example_request(self.config.contract)
        key = {"Authorization": f"Bearer {self.envs[stack].api_key}"}
        answer = httpx.post(f"{self.service_url(stack)}/score", json=record, headers=key, timeout=30)
        return answer.status_code, (
            answer.json().get("model_version", "") if answer.status_code == 200 else answer.text[:200]
        )

    def wait_rolled_out(self, stack: str, image: str, timeout: float = 240) -> bool:
        """The Deployment runs `image` on every ready pod and the Service answers 200."""
        from kubernetes import client

        apps = client.AppsV1Api(self.kube)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = apps.read_namespaced_deployment(self.config.serving.service_name, self.namespace(stack))
            status = d.status
            if (
                d.spec.template.spec.containers[0].image == image
                and status.updated_replicas == status.replicas
                and status.ready_replicas == status.replicas
                and not status.unavailable_replicas
            ):
                try:
                    if self.answers(stack)[0] == 200:
                        return True
                except Exception:  # noqa: S110 - not yet reachable: keep waiting
                    pass
            time.sleep(3)
        return False

    # --- 0: environments -----------------------------------------------------------------------------------------
    def images(self) -> dict[str, str]:
        """The previous release: the e2e's images for these sources, else the newest e2e pair the engine holds (an
        older build is what a previous release is), else built the e2e's way. Pushed under their deployed names.
        Returns {tag, serving, pipeline, store} (references by digest)."""
        from infra.images.engine import connect
        from tools import e2e_images as e2e

        engine = connect()
        tag = self.previous_tag(engine, f"{e2e.IMAGE_TAG}-{e2e.content_key(ROOT, e2e.IMAGE_SOURCES, e2e.TRAINING)}")
        serving, pipeline = (f"{image_name(self.config, kind)}:{tag}" for kind in ("serving", "pipeline"))
        tools_dir = self.args.tools_bin.parent
        key = e2e.content_key(ROOT, ("tools/objstore.py",), sorted(tools_dir.glob("objstore/*")))
        store = f"{objstore.IMAGE}:{e2e.IMAGE_TAG}-{key}"
        if not e2e.present(engine, store):
            store = objstore.build_stand_in(engine, self.config, tools_dir, f"{e2e.IMAGE_TAG}-{key}")
        deployed = self.config.images.registry
        return {
            "tag": tag,
            "serving": self.cluster.push(serving, as_repository=deployed, tag=tag),
            "pipeline": self.cluster.push(pipeline, as_repository=deployed, tag=tag),
            "store": self.cluster.push(store),
        }

    def previous_tag(self, engine, wanted: str) -> str:
        from tools import e2e_images as e2e

        names = {kind: image_name(self.config, kind) for kind in ("serving", "pipeline")}
        if all(e2e.present(engine, f"{name}:{wanted}") for name in names.values()):
            return wanted
        created: dict[str, dict[str, str]] = {kind: {} for kind in names}
        for image in engine.images.list():
            for ref in image.tags:
                for kind, name in names.items():
                    repository, _, tag = ref.rpartition(":")
                    if repository.rsplit("/", 1)[-1] == name and re.fullmatch(r"e2e-[0-9a-f]{16}", tag):
                        created[kind][tag] = image.attrs.get("Created", "")
        both = set(created["serving"]) & set(created["pipeline"])
        if both:
            newest = max(both, key=lambda t: created["serving"][t])
            log(f"previous release: the engine's e2e images {newest} (none built from these sources yet)")
            return newest
        log(f"previous release: no e2e images in the engine; building {wanted} the e2e's way (train, build)")
        work = self.out / "previous-release"
        env = {**os.environ, "MLRIG_WORK_DIR": str(work), "MLRIG_PII_KEY": REHEARSAL_PII_KEY,
               "MLRIG_MODEL_TAG": f"{self.config.model.name}:latest"}  # fmt: skip
        for step in (*e2e.TRAINING, ["image", "build", "serving", "--tag", wanted],
                     ["image", "build", "pipeline", "--tag", wanted]):  # fmt: skip
            subprocess.run([str(ROOT / ".venv/bin/mlrig"), *step], env=env, check=True, cwd=ROOT)
        return wanted

    def environments(self, runner: stacks.Runner) -> tuple[bool, str]:
        previous = self.images()
        self.previous = previous
        objstore.create_store_volume(self.kube, self.cluster, STORE_PV, STORE_PATH, self.config.images.user_uid)
        for env in self.envs.values():
            stacks.configure(runner, env, previous["store"])
        repo.git(runner.clone, "add", "-A", "infra")
        repo.git(runner.clone, "commit", "--quiet", "-m", "environments: staging and prod for the local cluster")
        self.environments_commit = repo.git(runner.clone, "rev-parse", "HEAD")
        self.chown(runner.clone, self.state)
        digest = {kind: previous[kind].split("@", 1)[1] for kind in ("serving", "pipeline")}
        details = []
        for stack in stacks.STACKS:
            started = time.monotonic()
            runner.run(
                "mlrig",
                "deploy",
                "--stack",
                stack,
                "--tag",
                previous["tag"],
                "--serving-digest",
                digest["serving"],
                "--pipeline-digest",
                digest["pipeline"],
            )
            image = self.deployed_image(stack)
            ok = self.wait_rolled_out(stack, image)
            details.append(f"{stack}: {image} up in {time.monotonic() - started:.0f} s, answers: {ok}")
            if not ok:
                return False, "; ".join(details)
        self.previous_image = {stack: self.deployed_image(stack) for stack in stacks.STACKS}
        return True, "; ".join(details)

    def champion_lake(self, runner: stacks.Runner) -> tuple[bool, str]:
        """The lake the cluster's gate promotes in, stood in by CI's own steps on a host folder."""
        work = self.out / "lake-work"
        done = runner.run("make", "data-check", "bento", f"CI_WORK={work}", check=False)
        (self.out / "lake-work.log").write_text(done.stdout + done.stderr, encoding="utf-8")
        verdict = work / "reports" / "gate.json"
        self.lake = work / "lake"
        passed = done.returncode == 0 and verdict.is_file() and json.loads(verdict.read_text()).get("passed") is True
        return passed, f"make data-check bento exit {done.returncode}; gate verdict {verdict}; lake {self.lake}"

    # --- 1: pull request ----------------------------------------------------------------------------------------
    def pull_request(self, checkout: Path, out: Path, previews: bool = True) -> tuple[int, str, list[str]]:
        """ci.yml on a pull_request; returns (exit of the run that holds the test job, comment, notes). Without
        `previews` (the challenger: the previews were the first PR's) only the jobs other than `preview` run."""
        jobs = self.args.pr_jobs if previews else [job for job in self.args.pr_jobs if job != "preview"]
        ci = checkout / ".github/workflows/ci.yml"
        notes = []
        if not self.args.pr_jobs:  # every job, as GitHub runs a pull request
            rc = run_act(
                self.args,
                checkout,
                ci,
                "pull_request",
                out,
                "--var",
                "PULUMI_PREVIEW_STACK=staging",
                *self.pulumi_flags(),
            )
            return rc, comment(out), notes
        rc = 0
        for job in jobs:
            rc |= run_act(
                self.args,
                checkout,
                ci,
                "pull_request",
                out.with_name(f"{out.name}-{job}"),
                "--job",
                job,
                "--var",
                "PULUMI_PREVIEW_STACK=staging",
                *self.pulumi_flags(),
            )
        if "test" not in jobs:
            why = self.args.test_job_note or "not asked for (--pr-jobs)"
            notes.append(
                f"ci.yml test job NOT RUN by act: {why}; its gate steps ran directly as the runner "
                "(make data-check bento; make pr-comment)"
            )
            log(notes[-1])
            work = out / "ci-work"
            runner = self.runner_for(checkout)
            done = runner.run("make", "data-check", "bento", f"CI_WORK={work}", check=False)
            # the comment job runs after a failed test job too (`if: !cancelled()`)
            said = runner.run("make", "pr-comment", f"CI_WORK={work}", check=False)
            log_text = done.stdout + done.stderr + said.stdout + said.stderr
            (out.with_suffix(".gate.log")).write_text(log_text, encoding="utf-8")
            text = (
                (checkout / ".cache/pr-comment.md").read_text() if (checkout / ".cache/pr-comment.md").is_file() else ""
            )
            return done.returncode or rc, text, notes
        return rc, comment(out.with_name(f"{out.name}-comment")) or comment(out.with_name(f"{out.name}-test")), notes

    def previews(self, checkout: Path) -> tuple[bool, str]:
        """The preview job once per stack (prod; staging's ran with the PR), the policy pack on every project."""
        details, ok = [], True
        for stack in ("staging", "prod"):
            out = self.out / f"preview-{stack}"
            rc = run_act(
                self.args,
                checkout,
                checkout / ".github/workflows/ci.yml",
                "pull_request",
                out,
                "--job",
                "preview",
                "--var",
                f"PULUMI_PREVIEW_STACK={stack}",
                *self.pulumi_flags(),
            )
            preview = out / "artifacts" / "pulumi-preview"
            found = sorted(p.stem for p in preview.glob("*.json"))
            ok &= rc == 0 and found == sorted(stacks.PROJECTS)
            details.append(f"{stack}: act exit {rc}, `pulumi preview --policy-pack` JSON for {found}")
        return ok, "; ".join(details)

    # --- 2/3: merges ---------------------------------------------------------------------------------------------
    def release(self, checkout: Path, out: Path, lake: Path) -> tuple[int, Release | None]:
        outputs = out / "release.env"
        rc = run_act(
            self.args,
            checkout,
            checkout / ".github/workflows/cd.yml",
            "push",
            out,
            "--job",
            "release",
            "--env",
            f"MLRIG_LAKE_URL={lake}",
            "--env",
            f"PUSH_REGISTRY={self.push_registry}",
            "--env",
            f"REGISTRY={self.push_registry.split('/', 1)[0]}",
            "--env",
            f"RELEASE_ENV_FILE={outputs}",
        )
        if rc != 0 or not outputs.is_file():
            return rc, None
        values = workflows.read_outputs(outputs)
        # the registry the job pushed to is a loopback address for the cluster's; the stacks deploy [images] registry
        values = {k: v.replace(self.push_registry, self.config.images.registry) for k, v in values.items()}
        return rc, Release(repo.git(checkout, "rev-parse", "HEAD"), values)

    def deploy_job(self, checkout: Path, release: Release, job: str, stack: str, out: Path) -> int:
        fed = {"tag": release.tag, **{k: v for k, v in release.outputs.items() if k.endswith(("-digest", "-image"))}}
        derived = workflows.deploy_job_workflow(checkout / ".github/workflows/cd.yml", job, fed, out / f"cd-{job}.yml")
        self.chown(out)
        return run_act(
            self.args,
            checkout,
            derived,
            "push",
            out / "act",
            "--job",
            job,
            "--var",
            f"SERVING_URL={self.service_url(stack)}",
            "--secret",
            "MLRIG_API_KEY",
            *self.pulumi_flags(),
            env={"MLRIG_API_KEY": self.envs[stack].api_key},
        )

    def runner_for(self, checkout: Path) -> stacks.Runner:
        return stacks.Runner(
            self.args.user, checkout, self.args.tools_bin, self.state, self.kubeconfig, self.passphrase
        )

    # --- the play ------------------------------------------------------------------------------------------------
    def play(self) -> None:
        from kubernetes import config as kubeconfig

        from tools import cluster

        args, out = self.args, self.out
        checkout = repo.clone(out / "repo", args.user)
        runner = self.runner_for(checkout)
        self.state.mkdir()
        self.chown(self.state)
        if not timed(
            self.phases,
            "champion lake (stand-in for the cluster's)",
            "make data-check bento passes the gate",
            lambda: self.champion_lake(runner),
        ):
            return
        mirror = self.config.images.registry.split("/", 1)[0]
        log("starting the local cluster (real node)")
        with cluster.local_cluster(args.tools_bin, out / "cluster", mirrors=(mirror,)) as info:
            self.cluster = info
            shutil.copyfile(info.kubeconfig, self.kubeconfig)
            self.kubeconfig.chmod(0o600)  # the cluster's admin token: the runner's alone
            self.chown(self.kubeconfig)
            self.kube = kubeconfig.new_client_from_config(config_file=str(info.kubeconfig))
            forwarder = Forwarder(info.registry)
            ingress = IngressStatus(self.kube)
            self.push_registry = f"{forwarder.address}/{self.config.images.registry.split('/', 1)[1]}"
            try:
                self.on_cluster(checkout, runner)
            finally:
                forwarder.close()
                self.destroy(runner)
                ingress.stop()

    def on_cluster(self, checkout: Path, runner: stacks.Runner) -> None:
        if not timed(
            self.phases,
            "environments: staging and prod on the previous release",
            "four stacks each up through `mlrig deploy`, both Services answer",
            lambda: self.environments(runner),
        ):
            return
        if "pr" in self.args.phases:
            self.phase_pr(checkout)
        if "merge" in self.args.phases and self.phase_merge(checkout) and "bad-merge" in self.args.phases:
            self.phase_bad_merge(checkout)
        if "failed-gate" in self.args.phases:
            self.phase_failed_gate()

    def phase_pr(self, checkout: Path) -> None:
        def body() -> tuple[bool, str]:
            rc, text, notes = self.pull_request(checkout, self.out / "pr")
            ok = rc == 0 and "**Gate:** pass" in text
            return ok, f"exit {rc}; gate pass in comment: {'**Gate:** pass' in text}; {'; '.join(notes)}"

        timed(self.phases, "pull request (ci.yml)", "every job passes; the comment has the gate's verdict", body)
        timed(
            self.phases,
            "pull request: preview of every stack (ci.yml preview job per stack)",
            "pulumi preview of the four projects on staging and prod, policy pack on",
            lambda: self.previews(checkout),
        )

    def phase_merge(self, checkout: Path) -> bool:
        state: dict = {}

        def release() -> tuple[bool, str]:
            before = catalog(self.cluster.registry)
            rc, state["release"] = self.release(checkout, self.out / "merge" / "release", self.lake)
            pushed = sorted(set(catalog(self.cluster.registry)) - set(before))
            r = state["release"]
            return (
                rc == 0 and r is not None,
                f"act exit {rc}; outputs {r.outputs if r else None}; new repositories {pushed}",
            )

        if not timed(
            self.phases, "merge: cd.yml release", "the champion packaged; both images pushed, digests out", release
        ):
            return False

        def deploy(job: str, stack: str) -> Callable[[], tuple[bool, str]]:
            def body() -> tuple[bool, str]:
                r = state["release"]
                rc = self.deploy_job(checkout, r, job, stack, self.out / "merge" / job)
                image = self.deployed_image(stack)
                served = self.answers(stack)
                ok = rc == 0 and image == r.serving and served[0] == 200
                return (
                    ok,
                    f"act exit {rc}; Deployment image {image} (release {r.serving}); "
                    f"/score through the Service {served}",
                )

            return body

        self.release_1 = state.get("release")
        if not timed(
            self.phases,
            "merge: cd.yml staging",
            "make deploy + smoke with the key through the Service pass; staging serves the new image",
            deploy("staging", "staging"),
        ):
            self.not_run["merge: cd.yml production"] = "staging failed (production needs staging)"
            return False
        return timed(self.phases, "merge: cd.yml production", "prod serves the new image", deploy("production", "prod"))

    def phase_bad_merge(self, checkout: Path) -> None:
        def body() -> tuple[bool, str]:
            good = self.release_1.serving
            prod_before = self.deployed_image("prod")
            source = (checkout / "service/scoring.py").read_text(encoding="utf-8")
            repo.commit(
                checkout,
                "a scoring regression (rehearsal)",
                {"service/scoring.py": source + REGRESSION},
                self.args.user,
            )
            rc, bad = self.release(checkout, self.out / "bad-merge" / "release", self.lake)
            if bad is None:
                return (
                    False,
                    f"the bad merge's release job failed (exit {rc}): see {self.out / 'bad-merge' / 'release.log'}",
                )
            staging_rc = self.deploy_job(checkout, bad, "staging", "staging", self.out / "bad-merge" / "staging")
            text = (self.out / "bad-merge" / "staging" / "act.log").read_text(errors="replace")
            rolled = "Roll back to the previous image" in text and "rolled back to" in text
            self.not_run["bad merge: cd.yml production"] = "staging failed (as it should): production's job needs it"
            now, prod_now = self.deployed_image("staging"), self.deployed_image("prod")
            back = self.wait_rolled_out("staging", good)
            served = self.answers("staging")
            ok = staging_rc != 0 and rolled and back and now == good and prod_now == prod_before and served[0] == 200
            return ok, (
                f"staging job exit {staging_rc}; rollback step ran: {rolled}; staging image {now} (previous {good}); "
                f"staging /score {served}; prod image unchanged: {prod_now == prod_before} ({prod_now})"
            )

        timed(
            self.phases,
            "merge whose image fails smoke → automatic rollback",
            "staging's smoke fails, cd.yml rolls back, staging serves the previous image; prod untouched",
            body,
        )

    def phase_failed_gate(self) -> None:
        def body() -> tuple[bool, str]:
            # a pull request on top of the environments' commit (the bad merge is not in it)
            challenger = repo.clone(
                self.out / "challenger", self.args.user, self.out / "repo", self.environments_commit
            )
            config = (challenger / "mlrig.toml").read_text(encoding="utf-8")
            repo.commit(
                challenger,
                "challenger: a gate no model passes",
                {"mlrig.toml": config.replace(*IMPOSSIBLE_GATE, 1)},
                self.args.user,
            )
            rc, text, notes = self.pull_request(challenger, self.out / "challenger-pr", previews=False)
            before = catalog(self.cluster.registry)
            empty = self.out / "empty-lake"
            empty.mkdir()
            self.chown(empty)
            cd_rc, _ = self.release(challenger, self.out / "challenger-merge", empty)
            shipped = sorted(set(catalog(self.cluster.registry)) - set(before))
            ok = rc != 0 and "**FAIL**" in text and cd_rc != 0 and not shipped
            return (
                ok,
                f"ci exit {rc} (FAIL in comment: {'**FAIL**' in text}), cd release exit {cd_rc}, shipped {shipped}; "
                + "; ".join(notes),
            )

        timed(
            self.phases,
            "challenger fails the gate",
            "ci.yml fails at the gate, its comment says FAIL; cd.yml packages nothing",
            body,
        )

    def destroy(self, runner: stacks.Runner) -> None:
        """Tear the stacks down (reverse order) so nothing of them is left when the cluster stops."""
        for stack in stacks.STACKS:
            for project in reversed(stacks.PROJECTS):
                runner.run(
                    str(self.args.tools_bin / "pulumi"),
                    "destroy",
                    "--yes",
                    "--skip-preview",
                    "--stack",
                    stack,
                    "--non-interactive",
                    cwd=runner.clone / "infra" / project,
                    check=False,
                )


def stop_podman_services(under: Path) -> list[int]:
    """Podman services `make images-setup` started inside this rehearsal's checkouts (their socket is under `under`)."""
    stopped = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = b" ".join(argv).decode(errors="replace")
        if "podman" in text and "system service" in text and str(under) in text:
            subprocess.run(["kill", proc.name], check=False)
            stopped.append(int(proc.name))
    return stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--user", default=act.RUNNER_USER)
    parser.add_argument("--tools-bin", type=Path, required=True)
    parser.add_argument("--pr-jobs", nargs="*", default=[], help="ci.yml jobs to run (default: all)")
    parser.add_argument("--test-job-note", default="", help="why the test job is not in --pr-jobs (said in the report)")
    parser.add_argument("--phases", nargs="*", default=["pr", "merge", "bad-merge", "failed-gate"])
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    args.tools_bin = args.tools_bin.resolve()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    if args.user:
        subprocess.run(["chown", "-R", f"{args.user}:", str(args.out)], check=True)
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _stop)  # `timeout` in .ci/run: tear the cluster and stacks down, then stop
    rehearsal = Rehearsal(args)
    try:
        rehearsal.play()
    finally:
        stopped = stop_podman_services(args.out)
        if stopped:
            log(f"stopped the Podman services the jobs started: {stopped}")
    phases, not_run = rehearsal.phases, rehearsal.not_run
    total = time.monotonic() - started
    report = {"seconds": round(total), "phases": [asdict(p) for p in phases], "not_run": not_run}
    (args.out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print()
    for phase in phases:
        print(f"{'PASS' if phase.ok else 'FAIL'}  {phase.name} ({phase.seconds:.0f} s): {phase.detail}")
    for name, why in not_run.items():
        print(f"NOT RUN  {name}: {why}")
    ok = bool(phases) and all(p.ok for p in phases) and len(phases) == expected_phases(args)
    print(f"rehearsal {'PASSED' if ok else 'FAILED'} in {total / 60:.1f} min ({args.out / 'report.json'})")
    return 0 if ok else 1


def _stop(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def expected_phases(args: argparse.Namespace) -> int:
    """Phases a complete run reports: lake, environments, then 2 for pr, 3 for merge, 1 each for the others."""
    return 2 + sum({"pr": 2, "merge": 3, "bad-merge": 1, "failed-gate": 1}[p] for p in args.phases)


if __name__ == "__main__":
    sys.exit(main())
