"""`mlrig`: one command per stage, raw drops to a served model. `mlrig --help` lists them; each has `--help`.


mlrig generate     demo raw drops            → <work>/raw/
mlrig ingest       raw drops                 → bronze
mlrig refine       bronze                    → silver + quarantine
mlrig features     silver                    → gold
mlrig report       silver + quarantine       → <work>/reports/data-quality-<run>.html
mlrig tune         gold (train part only)    → an Optuna study (<work>/tuning/ or tuning.storage)
mlrig train        gold                      → a registered model (BentoML store)
mlrig gate         the latest model          → champion, if every [gate] rule holds (else exit 1)
mlrig champion     the lake's pointer        → which model serves, and before it (--rollback: back one)
mlrig card         a registered model        → <work>/reports/<model>-<version>.html
mlrig export-model a registered model        → <lake>/models/<name>/<version>.bentomodel (import-model: back)
mlrig build        service + model           → a Bento
mlrig serve        the Bento                 → HTTP on 127.0.0.1
mlrig demo         all of the above, then one real prediction over HTTP
mlrig init         your sample files         → a proposed contract in mlrig.toml, for review

\b
mlrig outcomes     late labels               → monitoring/<dataset>_labels, keyed like the prediction log
mlrig monitor      predictions (+ outcomes)  → drift, performance, A/B verdict; report, dashboard, metrics
mlrig retrain      the same, then train+gate → a new champion only if it passes the gate


mlrig smoke        a running service         → pass/fail: ready, scores, refuses bad input, p99 in budget
mlrig deploy       an image tag              → `pulumi up` of the serving stack, previous tag recorded
mlrig rollback     the recorded previous tag → `pulumi up` of the serving stack
mlrig pr-comment   this CI run's artifacts   → the pull-request comment (markdown)
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from infra.images.cli import image_app
from mlrig_cli.config import config_app
from pipelines.config import Config
from pipelines.console import ConfigOption, console
from pipelines.console import config_or_exit as _config
from pipelines.console import fail as _fail
from pipelines.lake import Lake
from pipelines.ml.cli import app as ml_app
from pipelines.monitor.cli import app as monitor_app
from pipelines.onboard import cli as onboard_cli
from pipelines.release.cli import app as release_app

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False, rich_markup_mode=None)


ShardsOption = Annotated[
    int,
    typer.Option(min=1, help="Split the records into this many shards by a hash of their duplicate key."),
]
ShardOption = Annotated[
    int | None,
    typer.Option(
        envvar="JOB_COMPLETION_INDEX",
        help="Only this shard (0 ≤ index < --shards): one pod of a Kubernetes Indexed Job, which sets it.",
    ),
]


def _shard(index: int | None, shards: int):
    """The shard one run covers (None: all of them), refused plainly when it does not exist."""
    from pipelines.data.refine import RefineError, Shard

    if index is None:
        return None
    try:
        return Shard(index, shards)
    except RefineError as err:
        raise _fail("shard", err) from err


def _progress(stage: str):
    """Per-stage progress lines (rows read, written, quarantined) on stderr, beside the spinner."""
    return lambda message: console.print(f"{stage}: {message}")


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
    """Write demo raw drops (CSV with PII and planted dirt) where drops land ([storage] raw: <work>/raw, or an
    s3:// prefix). Example: mlrig generate --rows 5000"""
    from pipelines.data.drops import generate_demo_drops
    from pipelines.data.raw_files import RawFileError
    from pipelines.demo import DemoContractError

    cfg = _config(config)
    try:
        with console.status("generating demo drops"):
            report = generate_demo_drops(cfg.contract, cfg.raw_url, rows=rows, days=days, seed=seed)
    except (DemoContractError, RawFileError) as err:
        raise _fail("generate", err) from err
    console.print(
        f"generate: {report.rows_written} rows in {len(report.files)} files under {cfg.raw_url} "
        f"(planted: {report.duplicates} duplicates, {report.bad_rows} bad rows)"
    )


@app.command()
def ingest(config: ConfigOption = None) -> None:
    """Append new raw drops to bronze, as received. Files already ingested are skipped. Example: mlrig ingest"""
    from pipelines.data.ingest import IngestError
    from pipelines.data.ingest import ingest as run_ingest

    cfg = _config(config)
    try:
        with console.status(f"ingesting {cfg.raw_url}"):
            result = run_ingest(
                cfg.raw_url,
                Lake(cfg.lake_url),
                cfg.contract,
                cfg.storage.encoding,
                progress=_progress("ingest"),
                delimiter=cfg.storage.delimiter,
                file_format=cfg.storage.format,
            )
    except IngestError as err:
        raise _fail("ingest", err) from err
    console.print(
        f"ingest: {result.rows} rows from {result.files_ingested} new file(s), "
        f"{result.files_skipped} already in bronze (version {result.bronze_version})"
    )


@app.command()
def refine(config: ConfigOption = None, shards: ShardsOption = 1, shard: ShardOption = None) -> None:
    """Validate bronze against the contract, drop duplicates and PII: → silver + quarantine. Example: mlrig refine"""
    from pipelines.data.refine import RefineError
    from pipelines.data.refine import refine as run_refine
    from pipelines.pii import PiiKeyError, pii_key

    cfg = _config(config)
    try:
        key, key_source = pii_key(cfg.work_dir)
        with console.status("refining bronze → silver"):
            result = run_refine(
                Lake(cfg.lake_url),
                cfg.contract,
                key,
                _shard(shard, shards),
                progress=_progress("refine"),
                max_quarantine_share=cfg.quality.max_quarantine_share,
                shards=shards,
            )
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
def features(
    config: ConfigOption = None,
    shards: ShardsOption = 1,
    shard: ShardOption = None,
    if_ready: Annotated[
        bool, typer.Option(help="Build nothing (and exit 0) until refine has read bronze's latest version.")
    ] = False,
) -> None:
    """Build gold: model-ready features and churn by segment. Example: mlrig features"""
    from pipelines.data.features import FeaturesError, build_gold

    cfg = _config(config)
    try:
        with console.status("building gold"):
            result = build_gold(
                Lake(cfg.lake_url),
                cfg.contract,
                _shard(shard, shards),
                progress=_progress("features"),
                business=cfg.business,
                if_ready=if_ready,
            )
    except FeaturesError as err:
        raise _fail("features", err) from err
    if result.waiting:
        console.print(f"features: nothing built: {result.waiting}")
        return
    state = "up to date" if result.up_to_date else f"{result.rows} rows"
    console.print(
        f"features: gold {state} (features version {result.features_version}, "
        f"segments version {result.segments_version})"
    )


@app.command()
def report(config: ConfigOption = None) -> None:
    """Write the data-quality report (HTML, self-contained) with a fit-for-modeling verdict. Example: mlrig report"""
    from pipelines.data.report import ReportError, write_report

    cfg = _config(config)
    try:
        with console.status("writing the data-quality report"):
            result = write_report(Lake(cfg.lake_url), cfg.contract, cfg.reports_dir)
    except ReportError as err:
        raise _fail("report", err) from err
    verdict = "fit for modeling" if result.fit else "NOT fit for modeling: " + "; ".join(result.reasons)
    console.print(f"report: {verdict}")
    console.print(f"report: {result.path}")


@app.command()
def train(
    config: ConfigOption = None,
    tuned: Annotated[bool, typer.Option(help="Use the best parameters of the `mlrig tune` study.")] = False,
) -> None:
    """Train on gold, evaluate on a held-out split by entity, register in the BentoML store. Example: mlrig train"""
    from pipelines.ml.register import register, use_bentoml_home
    from pipelines.ml.train import TrainingDataError
    from pipelines.ml.train import train as run_train
    from pipelines.ml.tune import TuningError, best_params

    cfg = _config(config)
    use_bentoml_home(cfg.bentoml_home)
    try:
        params = best_params(cfg) if tuned else None
        with console.status("training"):
            result = run_train(Lake(cfg.lake_url), cfg, params=params)
    except (TrainingDataError, TuningError) as err:
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
def tune(
    config: ConfigOption = None,
    trials: Annotated[int | None, typer.Option(help="Trials to add (default: tuning.n_trials).")] = None,
    timeout_s: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: tuning.timeout_s).")
    ] = None,
) -> None:
    """Search model parameters with Optuna; several workers may share one study (tuning.storage).

    Then `mlrig train --tuned` trains with the best. Example: mlrig tune --trials 10
    """
    from pipelines.ml.train import TrainingDataError
    from pipelines.ml.tune import TuningError
    from pipelines.ml.tune import tune as run_tune

    cfg = _config(config)
    try:
        with console.status("tuning"):
            result = run_tune(Lake(cfg.lake_url), cfg, trials, timeout_s)
    except (TrainingDataError, TuningError) as err:
        raise _fail("tune", err) from err
    console.print(
        _counts_table(
            f"tune: study {result.study}",
            {
                "storage": result.storage.split("@")[-1],  # never print a password from a database URL
                "trials (this run / all)": f"{result.trials_run} / {result.trials_total}",
                f"best validation {result.metric}": f"{result.best_value:.4f}",
                **{f"best {k}": v for k, v in result.best_params.items()},
            },
        )
    )


@app.command()
def gate(
    config: ConfigOption = None,
    tag: Annotated[str | None, typer.Option(help="Model to judge (default: the latest registered).")] = None,
) -> None:
    """Judge a model against the champion on the same test rows; promote it if every [gate] rule holds.

    Exits 1 with a table of the failed rules otherwise; either way writes the model card (`mlrig card`).
    Example: mlrig gate --tag churn-classifier:latest
    """
    from pipelines.ml.gate import GateError, run_gate, verdict_table
    from pipelines.ml.register import use_bentoml_home
    from pipelines.ml.train import TrainingDataError

    cfg = _config(config)
    use_bentoml_home(cfg.bentoml_home)
    try:
        with console.status("gating: scoring challenger and champion, timing the challenger"):
            verdict = run_gate(Lake(cfg.lake_url), cfg, tag)
    except (GateError, TrainingDataError) as err:
        raise _fail("gate", err) from err
    console.print(verdict_table(verdict))
    from pipelines.ml.card import write_card

    console.print(f"card: {write_card(cfg, verdict.challenger)}")  # passed or failed: the card says why
    if not verdict.passed:
        failed = ", ".join(rule.name for rule in verdict.rules if not rule.passed)
        console.print(f"[red]gate: {verdict.challenger} is not promoted[/] (failed: {failed}).")
        for tip in verdict.advice:
            console.print(f"  try: {escape(tip)}")  # the tips name [config] sections, not rich markup
        raise typer.Exit(1)
    console.print(f"gate: {verdict.challenger} is now the champion.")


@app.command()
def card(
    config: ConfigOption = None,
    tag: Annotated[str | None, typer.Option(help="Model (default: the latest registered).")] = None,
) -> None:
    """Write a model's card: metrics, plots, slices, gate verdict, lineage, in one HTML file. Example: mlrig card"""
    import bentoml

    from pipelines.ml.card import write_card
    from pipelines.ml.register import use_bentoml_home

    cfg = _config(config)
    use_bentoml_home(cfg.bentoml_home)
    try:
        path = write_card(cfg, tag)
    except bentoml.exceptions.NotFound as err:
        raise _fail("card", ValueError(f"no model {tag or cfg.model.name} in the store: run `mlrig train`.")) from err
    console.print(f"card: {path}")


@app.command("export-model")
def export_model(
    config: ConfigOption = None,
    tag: Annotated[str | None, typer.Option(help="Model (default: the one the service would load).")] = None,
) -> None:
    """Copy a model from the BentoML store into the lake, for CI, CD and cluster jobs. Example: mlrig export-model"""
    import bentoml

    from pipelines.ml.register import export_model as run_export
    from pipelines.ml.register import use_bentoml_home
    from pipelines.ml.registry import ChampionError, serving_tag

    cfg = _config(config)
    use_bentoml_home(cfg.bentoml_home)
    try:
        exported, path = run_export(cfg, tag or serving_tag(cfg))
    except ChampionError as err:
        raise _fail("export-model", err) from err
    except bentoml.exceptions.NotFound as err:
        raise _fail(
            "export-model", ValueError(f"no model {tag or cfg.model.name} in the store: run `mlrig train`.")
        ) from err
    console.print(f"export-model: {exported} → {path}")


@app.command("import-model")
def import_model(
    tag: Annotated[str, typer.Option(help="name:version to bring in from the lake.")],
    config: ConfigOption = None,
) -> None:
    """Copy a model exported to the lake into this store. Example: mlrig import-model --tag churn-classifier:abc"""
    from pipelines.ml.register import import_model as run_import
    from pipelines.ml.register import use_bentoml_home

    cfg = _config(config)
    use_bentoml_home(cfg.bentoml_home)
    try:
        imported = run_import(cfg, tag)
    except FileNotFoundError as err:
        raise _fail("import-model", err) from err
    console.print(f"import-model: {imported} is in {cfg.bentoml_home / 'models'}")


@app.command()
def build(config: ConfigOption = None) -> None:
    """Package the service and the champion (imported from the lake if this store lacks it) as a Bento.

    Example: mlrig build
    """
    import bentoml

    from pipelines.ml.register import use_bentoml_home
    from pipelines.ml.registry import ChampionError
    from service.package import build_bento

    cfg = _config(config)
    use_bentoml_home(cfg.bentoml_home)
    try:
        with console.status("building the Bento"):
            tag = build_bento(cfg)
    except ChampionError as err:
        raise _fail("build", err) from err
    except bentoml.exceptions.NotFound as err:
        raise _fail("build", ValueError(f"{err}: run `mlrig train` and `mlrig gate` first.")) from err
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
    url: Annotated[
        str | None, typer.Option(help="The service's base URL (default: 127.0.0.1 on serving.port).")
    ] = None,
    record: Annotated[
        str | None, typer.Option(help="JSON features; default: an example built from the contract.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Send one record to a running service and print the answer. Example: mlrig predict --url http://10.0.0.7:3000"""
    from pipelines.contract import example_request
    from service.runner import ServingError, post_prediction

    cfg = _config(config)
    body = json.loads(record) if record else example_request(cfg.contract)
    try:
        answer = post_prediction(url or f"http://127.0.0.1:{cfg.serving.port}", body)
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
        ("refine", lambda: refine(config=config, shards=1, shard=None)),
        ("features", lambda: features(config=config, shards=1, shard=None, if_ready=False)),
        ("report", lambda: report(config=config)),
        ("train", lambda: train(config=config)),
        ("gate", lambda: gate(config=config, tag=None)),
        ("build", lambda: build(config=config)),
    ]
    for number, (name, stage) in enumerate(stages, start=1):
        console.rule(f"[{number}/{len(stages) + 1}] {name}")
        stage()
    console.rule(f"[{len(stages) + 1}/{len(stages) + 1}] serve, predict, feedback loop")
    raise typer.Exit(
        run_demo(
            cfg,
            port or cfg.serving.port,
            keep_serving=keep_serving,
            console=console,
            then=lambda url: _feedback(cfg, url),
        )
    )


def _feedback(cfg: Config, url: str) -> None:
    """The demo's feedback loop against the running service; a champion no store can get is an error, not a trace."""
    from pipelines.ml.registry import ChampionError
    from pipelines.monitor.feedback import FeedbackError, feedback_demo

    try:
        feedback_demo(cfg, url, console)
    except (ChampionError, FeedbackError) as err:
        raise _fail("demo", err) from err


@app.command()
def stop(config: ConfigOption = None) -> None:
    """Stop a service that `mlrig demo` left running. Example: mlrig stop"""
    from service.runner import stop_background

    cfg = _config(config)
    console.print(stop_background(cfg))


# Command groups live beside the code they drive, one Typer app each, registered here after the stage commands
# (so `mlrig --help` lists the stages first).
app.command("init")(onboard_cli.init)
app.add_typer(release_app)
app.add_typer(ml_app)  # no name: `mlrig champion` is top-level
app.add_typer(monitor_app)  # no name: outcomes, monitor, retrain are top-level commands

app.add_typer(image_app, name="image")
app.add_typer(config_app, name="config")
