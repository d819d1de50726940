"""What every `mlrig` command shares: one console (stderr, so stdout stays for data a script may read), the
`--config` option, and the one way a command reads the config or stops with exit 2 saying what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from pipelines.config import Config, ConfigError, load_config

# soft_wrap: a line is never folded at the console's width (80 columns when stderr is not a terminal, as in a CI
# log): a path or a command in a message must stay whole to be copied; a terminal wraps the line for display.
console = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Project config (default: $MLRIG_CONFIG or ./mlrig.toml)."),
]


def config_or_exit(path: Path | None) -> Config:
    """The config, with its [gate] rules checked against its task's metrics (pipelines/tasks/), or exit 2."""
    from pipelines.tasks import task_of

    try:
        config = load_config(path)
        task_of(config)
        return config
    except ConfigError as err:
        console.print(f"[red]config error:[/] {escape(str(err))}")
        raise typer.Exit(2) from err


def fail(stage: str, err: Exception) -> typer.Exit:
    console.print(f"[red]{stage} failed:[/] {escape(str(err))}")  # messages name [config] sections: not markup
    return typer.Exit(1)
