"""`mlrig init`: a proposed contract for your own files, a review table, and the config written with reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.config import ConfigError, load_config
from pipelines.data.refine import quarantine_rate_error, rule_counts, text_failures
from pipelines.onboard.infer import InferenceError, ProposedContract, infer_contract
from pipelines.onboard.sniff import Sample, SniffError, read_sample
from pipelines.onboard.write import contract_changes, render_config, write_atomically

console = Console(stderr=True, highlight=False, soft_wrap=True)  # lines whole, as pipelines/console.py says why
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "mlrig.toml"


def review_table(proposed: ProposedContract, sample: Sample) -> Table:
    source = f"{sample.format}" + (f", delimiter {sample.delimiter!r}, {sample.encoding}" if sample.delimiter else "")
    table = Table(
        title=f"{proposed.dataset}: {proposed.rows_sampled:,} rows sampled from {len(sample.files)} file(s) ({source})",
        title_justify="left",
    )
    for header in ("column", "type", "role", "null", "range / values", "PII", "why"):
        table.add_column(header, overflow="fold")
    for c in proposed.columns:
        bounds = f"{c.min:g} … {c.max:g}" if c.min is not None else ", ".join(c.allowed or [])[:60]
        table.add_row(
            c.name,
            c.dtype,
            c.role,
            "yes" if c.nullable else "",
            bounds,
            c.pii.treatment if c.pii else "",
            "; ".join(n for n in c.notes if not n.startswith("PII")) or (c.pii.reason if c.pii else ""),
        )
    return table


def check_proposal(path: Path, sample: Sample) -> None:
    """Load what was written as the pipeline will (it must load unchanged), and run refine's rules over the sample:
    the review shows how many rows the proposal quarantines and by which rule, and warns above the limit."""
    try:
        written = load_config(path)
    except ConfigError as err:  # a bug in init, not in the user's data: say so plainly
        console.print(f"[red]init wrote a config that does not load:[/] {escape(str(err))}. Please report this.")
        raise typer.Exit(1) from err
    rules = text_failures(sample.frame, written.contract)
    share = rules.height / max(sample.frame.height, 1)
    top = ", ".join(f"{rule} ({rows})" for rule, rows in rule_counts(rules)[:6])
    console.print(
        f"init: on the sample, refine would quarantine {rules.height} of {sample.frame.height} rows ({share:.2%})"
        + (f": {top}" if rules.height else "")
    )
    too_many = quarantine_rate_error(rules, sample.frame.height, written.quality.max_quarantine_share, "the sample")
    if too_many:
        console.print(f"[yellow]init: warning:[/] {escape(too_many)}")


def init(
    sources: Annotated[list[Path], typer.Option("--from", help="Sample files or folders (CSV, Parquet, NDJSON).")],
    target: Annotated[str, typer.Option(help="The column to predict (two classes, or a number).")],
    config: Annotated[Path, typer.Option("--config", "-c", help="Config file to write or compare with.")] = Path(
        "mlrig.toml"
    ),
    dataset: Annotated[
        str | None, typer.Option(help="Table name in the lake (default: the first file's stem).")
    ] = None,
    entity_key: Annotated[
        str | None, typer.Option(help="Column that identifies an entity (default: inferred).")
    ] = None,
    positive_class: Annotated[str | None, typer.Option(help="The target value that counts as positive.")] = None,
    task: Annotated[
        str | None,
        typer.Option(help="binary or regression (default: regression for a numeric target with many values)."),
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Replace an existing contract after showing the changes.")
    ] = False,
) -> None:
    """Propose a data contract from your files, show it for review, and write it into the config.

    Example: mlrig init --from exports/ --target churned --config mlrig.toml
    """
    try:
        sample = read_sample(sources)
        name = dataset or "".join(ch if ch.isalnum() else "_" for ch in sample.files[0].stem.split("_20")[0]).lower()
        if task not in (None, "binary", "regression"):
            raise InferenceError(f"--task {task!r}: use binary or regression")
        proposed = infer_contract(sample.frame, target, name, entity_key, positive_class, task)
    except (SniffError, InferenceError) as err:
        console.print(f"[red]init failed:[/] {err}")
        raise typer.Exit(1) from err
    console.print(review_table(proposed, sample))
    base = config.read_text(encoding="utf-8") if config.exists() else DEFAULT_TEMPLATE.read_text(encoding="utf-8")
    text = render_config(proposed, sample, base)
    if config.exists() and "[contract" in base:
        changes = contract_changes(base, text)
        if not changes:
            console.print(f"init: {config} already holds this contract; nothing to change")
            return
        console.print(f"init: compared with the contract in {config}, the sample says:")
        for change in changes:
            console.print(f"  • {change}")
        if not write:
            proposal = config.with_suffix(".proposed.toml")
            write_atomically(proposal, text)
            check_proposal(proposal, sample)
            console.print(f"init: {config} left as it is; the proposal is in {proposal}. Re-run with --write to apply.")
            return
    write_atomically(config, text)
    check_proposal(config, sample)
    console.print(
        f"init: wrote {config}. Review the comments beside each column, then run the pipeline "
        "(mlrig ingest, refine, features, train, build, serve)."
    )
