"""`mlrig smoke | deploy | rollback | pr-comment`: the release commands the workflows call (docs/cicd.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipelines.console import ConfigOption, console
from pipelines.console import config_or_exit as _config

app = typer.Typer(add_completion=False, rich_markup_mode=None)

StackOption = Annotated[str, typer.Option(help="Pulumi stack: dev, staging or prod.")]


@app.command()
def smoke(
    url: Annotated[str, typer.Option(help="The service's base URL.")],
    config: ConfigOption = None,
    requests: Annotated[int | None, typer.Option(help="Scored requests (default: release.smoke_requests).")] = None,
    p99_budget_ms: Annotated[
        float | None, typer.Option(help="p99 latency budget in ms (default: release.p99_budget_ms).")
    ] = None,
) -> None:
    """Check a running service: ready, scores valid input, refuses invalid input, p99 within budget.

    Exits 1 on any failure, so CD can roll back. Example: mlrig smoke --url http://127.0.0.1:3000
    """
    from pipelines.release.smoke import run_smoke

    report = run_smoke(_config(config), url, requests=requests, p99_budget_ms=p99_budget_ms)
    typer.echo(report.summary())
    if not report.passed:
        raise typer.Exit(1)


@app.command()
def deploy(
    stack: StackOption,
    tag: Annotated[str, typer.Option(help="The release's image tag (CI uses the commit SHA).")],
    serving_digest: Annotated[str | None, typer.Option(help="The pushed serving image's sha256 digest.")] = None,
    pipeline_digest: Annotated[str | None, typer.Option(help="The pushed pipeline image's sha256 digest.")] = None,
    registry: Annotated[
        str | None, typer.Option(help="Where the images were pushed (default: images.registry).")
    ] = None,
    project: Annotated[
        list[str] | None, typer.Option(help="Only these Pulumi projects (default: all, in dependency order).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """`pulumi up` platform → data → ml → serving on STACK with this release's images, policy pack on.

    Records the serving image it replaces first (for `mlrig rollback`).
    Example: mlrig deploy --stack staging --tag 3f2c1e0 --serving-digest sha256:… --pipeline-digest sha256:…
    """
    from pipelines.release.deploy import PROJECTS, ReleaseError
    from pipelines.release.deploy import deploy as run_deploy
    from pipelines.release.images import image_reference

    cfg = _config(config)
    try:
        images = {
            "serving": image_reference(cfg, "serving", tag=tag, digest=serving_digest, registry=registry),
            "pipeline": image_reference(cfg, "pipeline", tag=tag, digest=pipeline_digest, registry=registry),
        }
        result = run_deploy(cfg, stack, images, projects=project or PROJECTS)
    except (ReleaseError, ValueError) as err:
        console.print(f"[red]deploy failed:[/] {escape(str(err))}")
        raise typer.Exit(1) from err
    typer.echo(result.summary())


@app.command()
def rollback(
    stack: StackOption,
    to: Annotated[
        str | None, typer.Option(help="Image reference to go back to (default: the one the last deploy replaced).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """`pulumi up` the serving project with the image the last deploy replaced.

    Example: mlrig rollback --stack prod
    """
    from pipelines.release.deploy import ReleaseError
    from pipelines.release.deploy import rollback as run_rollback

    try:
        result = run_rollback(_config(config), stack, to)
    except (ReleaseError, ValueError) as err:
        console.print(f"[red]rollback failed:[/] {escape(str(err))}")
        raise typer.Exit(1) from err
    typer.echo(result.summary("rolled back to"))


@app.command("image-ref")
def image_ref(
    kind: Annotated[str, typer.Argument(help="serving or pipeline")],
    tag: Annotated[str | None, typer.Option(help="Image tag (a commit SHA).")] = None,
    digest: Annotated[str | None, typer.Option(help="sha256:… digest.")] = None,
    registry: Annotated[str | None, typer.Option(help="Registry/namespace (default: images.registry).")] = None,
    local: Annotated[
        bool, typer.Option(help="The name `mlrig image build` gives it in the engine (no registry).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Print the image reference CD pushes and the stacks deploy: <registry>/<name>:<tag>@<digest>.

    Example: mlrig image-ref serving --tag 3f2c1e0 --digest sha256:…
    """
    from pipelines.release.images import image_name, image_reference, reference

    cfg = _config(config)
    try:
        ref = (
            reference(image_name(cfg, kind), tag=tag, digest=digest)
            if local
            else image_reference(cfg, kind, tag=tag, digest=digest, registry=registry)
        )
    except ValueError as err:
        console.print(f"[red]image-ref:[/] {escape(str(err))}")
        raise typer.Exit(2) from err
    typer.echo(ref)


@app.command("pr-comment")
def pr_comment(
    config: ConfigOption = None,
    junit: Annotated[Path, typer.Option(help="pytest --junitxml output.")] = Path(".cache/junit.xml"),
    coverage: Annotated[Path, typer.Option(help="coverage xml output.")] = Path(".cache/coverage.xml"),
    gate_verdict: Annotated[
        Path | None, typer.Option(help="The gate's verdict JSON (default: <work>/reports/gate.json).")
    ] = None,
    preview_dir: Annotated[Path, typer.Option(help="Folder of `pulumi preview --json` files.")] = Path(
        ".cache/preview"
    ),
    out: Annotated[Path | None, typer.Option(help="Also write the markdown here.")] = None,
) -> None:
    """Print the pull-request comment (markdown) built from this run's artifacts.

    Example: mlrig pr-comment --out .cache/pr-comment.md
    """
    from pipelines.ml.gate import verdict_path
    from pipelines.release.pr_comment import Artifacts, render

    cfg = _config(config)
    artifacts = Artifacts(
        junit=junit,
        coverage=coverage,
        gate_verdict=gate_verdict or verdict_path(cfg),
        preview_dir=preview_dir,
    )
    markdown = render(cfg, artifacts)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(markdown, encoding="utf-8")
    typer.echo(markdown, nl=False)
