"""`mlrig config get KEY`: one value of the project config, for Makefiles and workflows that must not restate it.

The project config is the home of facts like the serving port and the service name; a workflow that needs one
asks for it (`mlrig config get serving.service_name`) instead of spelling it again, so changing mlrig.toml (or
pointing $MLRIG_CONFIG at another file) moves everything that reads it. Makefiles and workflows call it as
`python -m mlrig_cli.config get KEY`: the same command without importing every stage (under a second, not ten).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from rich.markup import escape

from pipelines.config import Config
from pipelines.console import ConfigOption, console
from pipelines.console import config_or_exit as _config

config_app = typer.Typer(help="Read the project config (for scripts, Makefiles and workflows).", no_args_is_help=True)


class UnknownKeyError(KeyError):
    """A dotted key that names nothing in the config; the message lists what does."""


def config_value(config: Config, key: str) -> Any:
    """The value at a dotted key (`serving.port`, `images.registry`, `lake_url`): fields, mappings, properties."""
    value: Any = config
    walked: list[str] = []
    for part in key.split("."):
        if isinstance(value, BaseModel) and (part in type(value).model_fields or _is_property(value, part)):
            value = getattr(value, part)
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            where = ".".join(walked) or "the config"
            raise UnknownKeyError(f"{key}: {where} has no {part!r}; it has {', '.join(_keys(value)) or 'no keys'}")
        walked.append(part)
    return value


def _is_property(model: BaseModel, name: str) -> bool:
    return isinstance(getattr(type(model), name, None), property) and not name.startswith("_")


def _keys(value: Any) -> list[str]:
    if isinstance(value, BaseModel):
        props = [n for n in dir(type(value)) if _is_property(value, n) and n not in ("model_extra", "model_fields_set")]
        return sorted({*type(value).model_fields, *props} - {"source"})
    return sorted(map(str, value)) if isinstance(value, dict) else []


def render(value: Any) -> str:
    """Scalars as they are (a shell reads `3000`, not `"3000"`); anything structured as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | Path):
        return str(value)
    return json.dumps(to_jsonable_python(value))


@config_app.callback()
def _group() -> None:
    """Keeps `get` a subcommand when this app runs alone (`python -m mlrig_cli.config get KEY`)."""


@config_app.command("get")
def get(
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. serving.port, serving.service_name, images.registry.")],
    config: ConfigOption = None,
) -> None:
    """Print one config value on stdout. Example: mlrig config get serving.service_name"""
    cfg = _config(config)
    try:
        value = config_value(cfg, key)
    except UnknownKeyError as err:
        console.print(f"[red]config get failed:[/] {escape(err.args[0])}")
        raise typer.Exit(2) from err
    typer.echo(render(value))


if __name__ == "__main__":
    config_app()
