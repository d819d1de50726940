"""`mlrig champion`: which model serves according to the lake's pointer, and the champions before it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from pipelines.console import ConfigOption, console, fail
from pipelines.console import config_or_exit as _config

app = typer.Typer()


@app.command()
def champion(
    config: ConfigOption = None,
    rollback: Annotated[
        bool,
        typer.Option(help="Make the previous champion the champion again (run it twice to undo)."),
    ] = False,
) -> None:
    """Show the champion (stdout: its tag), who promoted it, when and why, and the champions before it.

    After rolling the serving image back (`mlrig rollback`), `--rollback` moves the pointer back too, so monitoring
    watches the model that serves and the next gate compares against it. Example: mlrig champion --rollback
    """
    from pipelines.ml import registry
    from pipelines.ml.register import use_bentoml_home

    cfg = _config(config)
    use_bentoml_home(cfg.bentoml_home)
    pointer = registry.pointer_url(cfg)
    try:
        if rollback:
            current, previous = registry.champion_tag(cfg), registry.previous_champion(cfg)
            if previous is None:
                raise registry.ChampionError(f"{current or 'no model'} is the only champion {pointer} has named")
            registry.promote(cfg, previous, {"rollback_of": current})
            console.print(f"champion: rolled back from {current} to {previous}")
        entry = registry.champion_entry(cfg)
    except registry.ChampionError as err:
        raise fail("champion", err) from err
    if entry is None:
        console.print(f"champion: none named in {pointer} yet; `mlrig gate` promotes the first.")
        raise typer.Exit(1)
    table = Table(title=f"champion pointer {pointer}", title_justify="left")
    for header in ("", "model", "promoted at", "by", "verdict"):
        table.add_column(header)
    for number, step in enumerate([entry, *entry.get("history", [])]):
        verdict = ", ".join(f"{k}={v}" for k, v in sorted(step.get("verdict", {}).items()))
        label = "serving" if number == 0 else f"-{number}"
        table.add_row(label, step["tag"], step.get("promoted_at", ""), step.get("promoted_by", ""), verdict)
    console.print(table)
    typer.echo(entry["tag"])
