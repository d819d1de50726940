"""`mlrig image …`: build, run, smoke-test and push the serving and pipeline images.

mlrig image base                      make (or pull) the pinned base image from mlrig.toml [images]
mlrig image build serving|pipeline    build <name>:<commit> with the engine named by $DOCKER_HOST
mlrig image run serving|pipeline      serve on 127.0.0.1, or run one stage on the work folder
mlrig image smoke                     serve, score one record, compare with the in-process model, stop
mlrig image push serving|pipeline     push to a registry and print the image's digest reference

Only typer is imported here: the pipeline image registers this group too, and does not ship the docker SDK.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated

import typer

image_app = typer.Typer(help=__doc__, no_args_is_help=True, rich_markup_mode=None)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="Project config (default: $MLRIG_CONFIG or ./mlrig.toml).")
]
TagOption = Annotated[str | None, typer.Option(help="Image tag (default: the git commit).")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _guard(action):
    """Run `action`; an ImageError or config error becomes one red line and exit code 1."""
    from rich.console import Console

    from infra.images.errors import ImageError
    from pipelines.config import ConfigError

    try:
        return action()
    except (ImageError, ConfigError) as err:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]image:[/] {err}")  # paths whole
        raise typer.Exit(1) from err


def _setup(config: Path | None):
    from infra.images.engine import connect
    from pipelines.config import load_config

    return connect(), load_config(config)


@image_app.command()
def base(config: ConfigOption = None) -> None:
    """Make sure images.base_image exists: made by debootstrap if it is localhost/mlrig-base:*, else pulled.
    Example: mlrig image base"""
    from infra.images.base import ensure_base_image

    def action() -> None:
        client, cfg = _setup(config)
        typer.echo(f"{cfg.images.base_image} {ensure_base_image(client, cfg.images)}")

    _guard(action)


@image_app.command()
def build(
    kind: Annotated[str, typer.Argument(help="serving or pipeline")], config: ConfigOption = None, tag: TagOption = None
) -> None:
    """Build the serving image (from the latest Bento) or the pipeline image. Example: mlrig image build serving"""
    from infra.images.build import build as build_image

    def action() -> None:
        client, cfg = _setup(config)
        built = build_image(client, cfg, kind, tag)
        typer.echo(f"{built.ref} {built.image_id[:19]} {built.size_bytes / 1e6:.0f} MB in {built.seconds:.0f}s")

    _guard(action)


@image_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="serving or pipeline")],
    config: ConfigOption = None,
    tag: TagOption = None,
    port: Annotated[int, typer.Option(help="Serving: port on 127.0.0.1 (0 = a free one).")] = 0,
) -> None:
    """Serving: start the container on 127.0.0.1 and leave it running. Pipeline: run the stage after `--` on
    the work folder. Examples: mlrig image run serving --port 3005; mlrig image run pipeline -- ingest"""
    from infra.images import run as runner
    from infra.images.build import image_ref

    def action() -> None:
        client, cfg = _setup(config)
        ref = image_ref(cfg, kind, tag)
        if kind == "pipeline":
            env = {k: v for k, v in os.environ.items() if k in ("MLRIG_PII_KEY", "MLRIG_MODEL_TAG")}
            typer.echo(runner.run_stage(client, ref, ctx.args or ["--help"], cfg.work_dir, env))
            return
        chosen = port or _free_port()
        container = runner.start_serving(client, ref, chosen)
        url = f"http://127.0.0.1:{chosen}"
        try:
            runner.wait_ready(container, url)
        except BaseException:
            runner.stop(container)
            raise
        typer.echo(f"{ref} serving at {url} (container {container.short_id}; stop: docker rm -f {container.short_id})")

    _guard(action)


@image_app.command()
def smoke(config: ConfigOption = None, tag: TagOption = None, port: Annotated[int, typer.Option()] = 0) -> None:
    """Serve the serving image, score the contract's example record, compare with the in-process model, stop.
    Example: mlrig image smoke"""
    from infra.images import run as runner
    from infra.images.build import image_ref
    from pipelines.contract import example_request
    from pipelines.ml.register import use_bentoml_home

    def action() -> None:
        client, cfg = _setup(config)
        use_bentoml_home(cfg.bentoml_home)
        result = runner.smoke(
            client, image_ref(cfg, "serving", tag), port or _free_port(), example_request(cfg.contract)
        )
        typer.echo(
            f"smoke: ready in {result.seconds_to_ready:.1f}s, {result.answer} "
            f"(in-process {result.expected_probability:.6f})"
        )

    _guard(action)


@image_app.command()
def push(
    kind: Annotated[str, typer.Argument(help="serving or pipeline")],
    config: ConfigOption = None,
    tag: TagOption = None,
    registry: Annotated[str | None, typer.Option(help="Registry/namespace (default: images.registry).")] = None,
) -> None:
    """Push the image and print its digest reference (deploy by digest). Example: mlrig image push serving"""
    from infra.images import registry as registries
    from infra.images.build import git_commit, image_ref

    def action() -> None:
        client, cfg = _setup(config)
        typer.echo(
            registries.push(client, image_ref(cfg, kind, tag), registry or cfg.images.registry, tag or git_commit())
        )

    _guard(action)
