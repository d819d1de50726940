"""`mlrig`: one command per stage, raw drops to a served model. `mlrig --help` lists them; each has `--help`.

mlrig generate     demo raw drops            → <work>/raw/
mlrig ingest       raw drops                 → bronze
mlrig refine       bronze                    → silver + quarantine
mlrig features     silver                    → gold
mlrig train        gold                      → a registered model (BentoML store)
mlrig build        service + model           → a Bento
mlrig serve        the Bento                 → HTTP on 127.0.0.1
mlrig demo         all of the above, then one real prediction over HTTP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipelines.config import Config, ConfigError, load_config
from pipelines.lake import Lake

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, rich_markup_mode=None)
console = Console(stderr=True, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Project config (default: $MLRIG_CONFIG or ./mlrig.toml)."),
]


def _config(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as err:
        console.print(f"[red]config error:[/] {err}")
        raise typer.Exit(2) from err


def _fail(stage: str, err: Exception) -> typer.Exit:
    console.print(f"[red]{stage} failed:[/] {err}")
    return typer.Exit(1)


def _counts_table(title: str, counts: dict[str, object]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    for key, value in counts.items():
        table.add_row(key, str(value))
    return table


@app.command()
def generate(
    config: ConfigOption = None,
    rows: Annotated[int, typer.Option(help="Records in total, before planted duplicates.")] = 20_000,
    days: Annotated[int, typer.Option(help="Daily drop files to spread them over.")] = 4,
    seed: Annotated[int, typer.Option(help="Same seed, same files.")] = 7,
) -> None:
    """Write demo raw drops (CSV with PII and planted dirt) into <work>/raw. Example: mlrig generate --rows 5000"""
    from pipelines.demo import generate_raw_drops

    cfg = _config(config)
    with console.status("generating demo drops"):
        report = generate_raw_drops(cfg.contract, cfg.raw_dir, rows=rows, days=days, seed=seed)
    console.print(
        f"generate: {report.rows_written} rows in {len(report.files)} files under {cfg.raw_dir} "
        f"(planted: {report.duplicates} duplicates, {report.bad_rows} bad rows)"
    )


@app.command()
def ingest(config: ConfigOption = None) -> None:
    """Append new raw drops to bronze, as received. Files already ingested are skipped. Example: mlrig ingest"""
    from pipelines.data.ingest import IngestError
    from pipelines.data.ingest import ingest as run_ingest

    cfg = _config(config)
    try:
        with console.status(f"ingesting {cfg.raw_dir}"):
            result = run_ingest(cfg.raw_dir, Lake(cfg.lake_url), cfg.contract)
    except IngestError as err:
        raise _fail("ingest", err) from err
    console.print(
        f"ingest: {result.rows} rows from {result.files_ingested} new file(s), "
        f"{result.files_skipped} already in bronze (version {result.bronze_version})"
    )


@app.command()
def refine(config: ConfigOption = None) -> None:
    """Validate bronze against the contract, drop duplicates and PII: → silver + quarantine. Example: mlrig refine"""
    from pipelines.data.refine import RefineError
    from pipelines.data.refine import refine as run_refine
    from pipelines.pii import PiiKeyError, pii_key

    cfg = _config(config)
    try:
        key, key_source = pii_key(cfg.work_dir)
        with console.status("refining bronze → silver"):
            result = run_refine(Lake(cfg.lake_url), cfg.contract, key)
    except (RefineError, PiiKeyError) as err:
        raise _fail("refine", err) from err
    if result.up_to_date:
        console.print(f"refine: silver is up to date with bronze (version {result.silver_version}); nothing to do")
        return
    console.print(
        _counts_table(
            "refine",
            {
                "bronze rows": result.bronze_rows,
                "silver rows": result.silver_rows,
                "quarantined": result.quarantined,
                "duplicates removed": result.duplicates,
                "PII key": key_source,
            },
        )
    )


@app.command()
def features(config: ConfigOption = None) -> None:
    """Build gold: model-ready features and churn by segment. Example: mlrig features"""
    from pipelines.data.features import FeaturesError, build_gold

    cfg = _config(config)
    try:
        with console.status("building gold"):
            result = build_gold(Lake(cfg.lake_url), cfg.contract)
    except FeaturesError as err:
        raise _fail("features", err) from err
    state = "up to date" if result.up_to_date else f"{result.rows} rows"
    console.print(
        f"features: gold {state} (features version {result.features_version}, "
        f"segments version {result.segments_version})"
    )


@app.command()
def train(config: ConfigOption = None) -> None:
    """Train on gold, evaluate on a held-out split by entity, register in the BentoML store. Example: mlrig train"""
    from pipelines.ml.register import register, use_bentoml_home
    from pipelines.ml.train import TrainingDataError
    from pipelines.ml.train import train as run_train

    cfg = _config(config)
    use_bentoml_home(cfg.bentoml_home)
    try:
        with console.status("training"):
            result = run_train(Lake(cfg.lake_url), cfg)
    except TrainingDataError as err:
        raise _fail("train", err) from err
    tag = register(result, cfg)
    metrics = {k: f"{v:.3f}" for k, v in result.metrics.items() if isinstance(v, float)}
    console.print(
        _counts_table(
            f"train: registered {tag}",
            {
                "gold": f"{result.gold_table}@v{result.gold_version}",
                "train rows": result.train_rows,
                "test rows": result.test_rows,
                **metrics,
            },
        )
    )


@app.command()
def build(config: ConfigOption = None) -> None:
    """Package the service and the latest model as a Bento. Example: mlrig build"""
    from pipelines.ml.register import use_bentoml_home
    from service.package import build_bento

    cfg = _config(config)
    use_bentoml_home(cfg.bentoml_home)
    with console.status("building the Bento"):
        tag = build_bento(cfg)
    console.print(f"build: Bento {tag} in {cfg.bentoml_home / 'bentos'}")


@app.command()
def serve(
    config: ConfigOption = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serving.port).")] = None,
    host: Annotated[str | None, typer.Option(help="Address (default: serving.host, 127.0.0.1).")] = None,
) -> None:
    """Serve the latest Bento over HTTP in the foreground (Ctrl-C stops it). Example: mlrig serve --port 3001"""
    from service.runner import serve_foreground

    cfg = _config(config)
    raise typer.Exit(serve_foreground(cfg, host or cfg.serving.host, port or cfg.serving.port))


@app.command()
def predict(
    url: Annotated[str, typer.Option(help="The service's base URL.")] = "http://127.0.0.1:3000",
    record: Annotated[
        str | None, typer.Option(help="JSON features; default: an example built from the contract.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Send one record to a running service and print the answer. Example: mlrig predict --url http://127.0.0.1:3000"""
    from service.runner import ServingError, post_prediction
    from service.schema import example_request

    cfg = _config(config)
    body = json.loads(record) if record else example_request(cfg.contract)
    try:
        answer = post_prediction(url, body)
    except ServingError as err:
        raise _fail("predict", err) from err
    typer.echo(json.dumps(answer))


@app.command()
def demo(
    config: ConfigOption = None,
    rows: Annotated[int, typer.Option(help="Demo records to generate.")] = 20_000,
    keep_serving: Annotated[bool, typer.Option(help="Leave the service running after the demo prediction.")] = True,
    port: Annotated[int | None, typer.Option(help="Port (default: serving.port).")] = None,
) -> None:
    """Run every stage on demo data, serve the Bento, send one real prediction. Example: mlrig demo --no-keep-serving"""
    from service.runner import run_demo

    cfg = _config(config)
    stages = [
        ("generate", lambda: generate(config=config, rows=rows, days=4, seed=7)),
        ("ingest", lambda: ingest(config=config)),
        ("refine", lambda: refine(config=config)),
        ("features", lambda: features(config=config)),
        ("train", lambda: train(config=config)),
        ("build", lambda: build(config=config)),
    ]
    for number, (name, stage) in enumerate(stages, start=1):
        console.rule(f"[{number}/{len(stages) + 1}] {name}")
        stage()
    console.rule(f"[{len(stages) + 1}/{len(stages) + 1}] serve + predict")
    raise typer.Exit(run_demo(cfg, port or cfg.serving.port, keep_serving=keep_serving, console=console))


@app.command()
def stop(config: ConfigOption = None) -> None:
    """Stop a service that `mlrig demo` left running. Example: mlrig stop"""
    from service.runner import stop_background

    cfg = _config(config)
    console.print(stop_background(cfg))


# Command groups live beside the code they drive, one Typer app each, registered here.

from infra.images.cli import image_app  # noqa: E402  # groups register after the stage commands

app.add_typer(image_app, name="image")

if __name__ == "__main__":
    app()
