"""`mlrig outcomes | monitor | retrain`: close the loop the prediction log opens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from pipelines.config import Config
from pipelines.console import ConfigOption, console
from pipelines.console import config_or_exit as _config
from pipelines.lake import Lake
from pipelines.monitor.outcomes import LABEL, REQUEST_KEY
from pipelines.monitor.run import MonitorError, monitor, record_outcomes, served_window
from pipelines.monitor.summary import print_result

app = typer.Typer()


def labels_from_file(path: Path, config: Config, key: str) -> pl.DataFrame:
    """A labels export (entity key + target, as the CRM knows them) → request_key (hashed like the log) + the task's
    label (0/1, or the number)."""
    from pipelines.pii import pseudonymize_value
    from pipelines.tasks import task_of

    contract = config.contract
    frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, infer_schema=False)
    missing = [c for c in (contract.entity_key, contract.target) if c not in frame.columns]
    if missing:
        raise MonitorError(f"{path}: missing column(s) {missing}; a labels file holds the entity key and the target")
    return frame.select(
        pl.col(contract.entity_key)
        .cast(pl.String)
        .map_elements(lambda v: pseudonymize_value(v, key), return_dtype=pl.String)
        .alias(REQUEST_KEY),
        task_of(config).label(contract).alias(LABEL),
    )


@app.command()
def outcomes(
    config: ConfigOption = None,
    labels: Annotated[Path | None, typer.Option("--from", help="Labels file: entity key + target columns.")] = None,
    simulate: Annotated[bool, typer.Option(help="Demo: labels for logged predictions from the demo's law.")] = False,
) -> None:
    """Record ground truth that arrived after the fact, keyed like the prediction log.

    Example: mlrig outcomes --from labels.csv
    """
    from pipelines.demo import outcome_labels
    from pipelines.pii import pii_key

    cfg = _config(config)
    try:
        if simulate:
            window = served_window(cfg, hours=None).filter(pl.col(REQUEST_KEY).is_not_null())
            frame = outcome_labels(window, REQUEST_KEY)
        elif labels is not None:
            frame = labels_from_file(labels, cfg, pii_key(cfg.work_dir)[0])
        else:
            raise MonitorError("give a labels file (--from labels.csv) or --simulate for the demo")
    except MonitorError as err:
        console.print(f"[red]outcomes failed:[/] {err}")
        raise typer.Exit(1) from err
    console.print(f"outcomes: {record_outcomes(cfg, frame)} labels recorded")


def _serving_tag(cfg: Config, stage: str) -> str:
    """The serving model, imported from the lake when this store lacks it (a pod starts with an empty one)."""
    from pipelines.ml.register import use_bentoml_home
    from pipelines.ml.registry import ChampionError, fetch_serving

    use_bentoml_home(cfg.bentoml_home)
    try:
        return fetch_serving(cfg)
    except ChampionError as err:  # even a forced retrain stops: its gate could not see the champion either
        console.print(f"[red]{stage} failed:[/] {err}")
        raise typer.Exit(1) from err


@app.command("monitor")
def monitor_command(
    config: ConfigOption = None,
    hours: Annotated[float | None, typer.Option(help="Only predictions from the last N hours (default: all).")] = None,
) -> None:
    """Drift and performance of the serving model on logged traffic; writes the report and dashboard.

    Example: mlrig monitor --hours 24
    """
    cfg = _config(config)
    try:
        result = monitor(cfg, _serving_tag(cfg, "monitor"), hours)
    except MonitorError as err:
        console.print(f"[red]monitor failed:[/] {err}")
        raise typer.Exit(1) from err
    print_result(result)


@app.command()
def retrain(
    config: ConfigOption = None,
    hours: Annotated[float | None, typer.Option(help="Monitor the last N hours (default: all).")] = None,
    force: Annotated[bool, typer.Option(help="Retrain even if monitoring sees no reason.")] = False,
) -> None:
    """Retrain on the latest gold when drift or performance asks for it; the gate still decides.

    Example: mlrig retrain
    """
    from pipelines.ml.gate import GateError, run_gate, verdict_table
    from pipelines.ml.register import register
    from pipelines.ml.train import TrainingDataError, train

    cfg = _config(config)
    try:
        result = monitor(cfg, _serving_tag(cfg, "retrain"), hours)
        print_result(result)
        needed = result.decision.retrain
    except MonitorError as err:  # nothing served yet: only a forced (scheduled) retraining goes ahead
        if not force:
            console.print(f"[red]retrain failed:[/] {err}")
            raise typer.Exit(1) from err
        console.print(f"retrain: no monitoring verdict ({err}); retraining because of --force")
        needed = True
    if not (needed or force):
        console.print("retrain: not needed")
        return
    try:
        tag = register(train(Lake(cfg.lake_url), cfg), cfg)
        verdict = run_gate(Lake(cfg.lake_url), cfg, tag)
    except (TrainingDataError, GateError) as err:
        console.print(f"[red]retrain failed:[/] {err}")
        raise typer.Exit(1) from err
    console.print(verdict_table(verdict))
    if not verdict.passed:
        console.print(f"[red]retrain: the gate blocked {tag}; the champion keeps serving.[/]")
        raise typer.Exit(1)
    console.print(f"retrain: {tag} passed the gate and is the champion; build and deploy it (mlrig build).")
