"""`mlrig smoke | deploy | rollback | pr-comment`: the release commands the workflows call (docs/cicd.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.console import ConfigOption, console
from pipelines.console import config_or_exit as _config

app = typer.Typer(add_completion=False, rich_markup_mode=None)

StackOption = Annotated[str, typer.Option(help="Pulumi stack of the serving project, e.g. staging or production.")]


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
    tag: Annotated[str, typer.Option(help="The image tag to serve (CI uses the commit SHA).")],
    config: ConfigOption = None,
) -> None:
    """Record the tag the stack serves now, then `pulumi up` the serving project with `--tag`.

    Example: mlrig deploy --stack staging --tag 3f2c1e0
    """
    from pipelines.release.deploy import PulumiStack, ReleaseError
    from pipelines.release.deploy import deploy as run_deploy

    try:
        result = run_deploy(PulumiStack(_config(config), stack), tag)
    except ReleaseError as err:
        console.print(f"[red]deploy failed:[/] {err}")
        raise typer.Exit(1) from err
    typer.echo(result.summary())


@app.command()
def rollback(
    stack: StackOption,
    to: Annotated[
        str | None, typer.Option(help="Tag to go back to (default: the one the last deploy replaced).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """`pulumi up` the serving project with the image tag the last deploy replaced.

    Example: mlrig rollback --stack production
    """
    from pipelines.release.deploy import PulumiStack, ReleaseError
    from pipelines.release.deploy import rollback as run_rollback

    try:
        result = run_rollback(PulumiStack(_config(config), stack), to)
    except ReleaseError as err:
        console.print(f"[red]rollback failed:[/] {err}")
        raise typer.Exit(1) from err
    typer.echo(result.summary("rolled back to"))


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
    from pipelines.release.pr_comment import Artifacts, render

    cfg = _config(config)
    artifacts = Artifacts(
        junit=junit,
        coverage=coverage,
        gate_verdict=gate_verdict or cfg.reports_dir / "gate.json",
        preview_dir=preview_dir,
    )
    markdown = render(cfg, artifacts)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(markdown, encoding="utf-8")
    typer.echo(markdown, nl=False)
