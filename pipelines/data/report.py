"""Report: silver + quarantine + lineage → one self-contained HTML data-quality report per run, in <work>/reports/.

It answers "can we train on this?" before anyone does: schema, missing values, distributions (PNG plots embedded
as base64, so the file can be mailed or attached to a CI run), association of each feature with the target,
the contract rules quarantined rows broke, the row accounting of the last refine, and a verdict with reasons.
Only aggregates are shown, never row values, so no pseudonym or raw PII can reach the report.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path

import jinja2
import matplotlib
import numpy as np
import polars as pl

from pipelines.config import Contract
from pipelines.data.refine import RULE
from pipelines.lake import Lake
from pipelines.lineage import Run, last_success, record

matplotlib.use("Agg")  # no display in CI or a pod
import matplotlib.pyplot as plt  # after matplotlib.use: the backend is chosen before pyplot loads

# Verdict thresholds, each with its reason.
MIN_ROWS = 500  # a 20 % hold-out of fewer rows gives metrics that are mostly noise
MAX_QUARANTINE_SHARE = 0.05  # above 5 % the source, not a few records, is broken: fix the export first
MAX_MISSING_SHARE = 0.30  # a feature mostly imputed teaches the model the imputation
MIN_MINORITY_SHARE = 0.02  # fewer positives than this needs resampling or a different metric, not a default run


class ReportError(RuntimeError):
    """The report cannot be written (no silver yet)."""


@dataclass(frozen=True)
class ReportResult:
    run_id: str
    path: Path
    fit: bool
    reasons: list[str]


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plot(frame: pl.DataFrame, column, label: pl.Series) -> dict:
    """A histogram split by target for numbers, the positive rate per level for categories."""
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    values = frame[column.name]
    if column.dtype in ("int", "float"):
        data = values.cast(pl.Float64)
        for outcome, colour in ((0, "#4c78a8"), (1, "#e45756")):
            part = data.filter((label == outcome) & data.is_not_null()).to_numpy()
            ax.hist(part, bins=30, alpha=0.6, color=colour, label=f"target={outcome}")
        ax.legend(fontsize=7)
        caption = f"{column.name}: distribution by target"
    else:
        rates = (
            pl.DataFrame({"level": values.cast(pl.String), "label": label})
            .group_by("level")
            .agg(pl.len().alias("rows"), pl.col("label").mean().alias("rate"))
            .sort("level")
        )
        ax.bar(rates["level"].to_list(), rates["rows"].to_list(), color="#4c78a8")
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        caption = f"{column.name}: rows per level (positive rate {', '.join(f'{r:.2f}' for r in rates['rate'])})"
    ax.set_title(column.name, fontsize=9)
    return {"feature": column.name, "png": _png(fig), "caption": caption}


def _association(frame: pl.DataFrame, column, label: pl.Series) -> dict:
    """Pearson r with the 0/1 target for numbers; Cramér's V for categories (0 = none, 1 = decides it)."""
    if column.dtype in ("int", "float"):
        pair = pl.DataFrame({"x": frame[column.name].cast(pl.Float64), "y": label.cast(pl.Float64)}).drop_nulls()
        value = pair.select(pl.corr("x", "y")).item() if pair.height > 2 else None
        return {"feature": column.name, "measure": "Pearson r", "value": float(np.nan_to_num(value or 0.0))}
    table = (
        pl.DataFrame({"x": frame[column.name].cast(pl.String), "y": label})
        .group_by("x", "y")
        .len()
        .pivot(on="y", index="x", values="len")
        .fill_null(0)
        .drop("x")
        .to_numpy()
        .astype(float)
    )
    total = table.sum()
    expected = table.sum(axis=1, keepdims=True) @ table.sum(axis=0, keepdims=True) / total
    chi2 = float(np.nansum((table - expected) ** 2 / np.where(expected == 0, np.nan, expected)))
    k = min(table.shape) - 1
    value = float(np.sqrt(chi2 / (total * k))) if k > 0 and total else 0.0
    return {"feature": column.name, "measure": "Cramér's V", "value": value}


def _verdict(rows: int, accounting: dict, missing: dict[str, float], positive_rate: float, contract) -> list[str]:
    """Reasons the data is not fit for modeling; empty when it is."""
    problems = []
    if rows < MIN_ROWS:
        problems.append(f"only {rows} valid rows (need ≥ {MIN_ROWS} for a meaningful hold-out)")
    bronze = accounting.get("bronze", 0)
    share = accounting.get("quarantined", 0) / bronze if bronze else 0.0
    if share > MAX_QUARANTINE_SHARE:
        problems.append(f"{share:.1%} of rows quarantined (limit {MAX_QUARANTINE_SHARE:.0%}): fix the source export")
    for name, value in missing.items():
        if name in contract.feature_names and value > MAX_MISSING_SHARE:
            problems.append(f"feature {name} is {value:.0%} missing (limit {MAX_MISSING_SHARE:.0%})")
    minority = min(positive_rate, 1 - positive_rate)
    if minority < MIN_MINORITY_SHARE:
        problems.append(f"target {contract.target} has {minority:.1%} in its minority class (need ≥ 2%)")
    return problems


def write_report(lake: Lake, contract: Contract, out_dir: Path) -> ReportResult:
    silver, quarantine = lake.table("silver", contract.dataset), lake.table("quarantine", contract.dataset)
    if not silver.exists():
        raise ReportError(f"{silver.label} does not exist yet: run `mlrig refine` first.")
    run = Run(
        stage="report",
        contract_hash=contract.fingerprint,
        inputs={silver.label: silver.version(), quarantine.label: quarantine.version()},
    )
    frame = silver.read(run.inputs[silver.label])
    shown_class = contract.positive_class
    if contract.task == "binary":
        label = (frame[contract.target] == contract.positive_class).cast(pl.Int8)
    else:  # a numeric target: the plots and associations split it at its median (above = 1)
        median = frame[contract.target].cast(pl.Float64).median() or 0.0
        label = (frame[contract.target].cast(pl.Float64) > median).cast(pl.Int8)
        shown_class = f"above its median {median:g}"
    columns = [c for c in contract.columns.values() if c.name in frame.columns]
    missing = {c.name: frame[c.name].null_count() / max(frame.height, 1) for c in columns}
    refine_run = last_success(lake, "refine")
    accounting = json.loads(refine_run["counts"]) if refine_run else {}
    violations = []
    if quarantine.exists():
        rules = quarantine.read(run.inputs[quarantine.label])[RULE].str.split("; ").explode()
        violations = [{"rule": r, "rows": n} for r, n in rules.value_counts(sort=True, name="rows").iter_rows() if r]
    positive_rate = float(label.mean() or 0.0)
    problems = _verdict(frame.height, accounting, missing, positive_rate, contract)
    features = [c for c in columns if c.role == "feature"]
    context = {
        "dataset": contract.dataset,
        "run_id": run.run_id,
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "silver_version": run.inputs[silver.label],
        "quarantine_version": run.inputs[quarantine.label],
        "contract_hash": contract.fingerprint,
        "fit": not problems,
        "reasons": problems
        or [f"{frame.height} valid rows, every check within its limit (quarantine, missing values, class balance)"],
        "accounting": accounting,
        "columns": [
            {
                "name": c.name,
                "dtype": c.dtype,
                "stored": str(frame.schema[c.name]),
                "role": c.role,
                "pii": c.pii or "",
                "missing": f"{missing[c.name]:.1%}",
                "distinct": frame[c.name].n_unique(),
            }
            for c in columns
        ],
        "target": contract.target,
        "positive_class": shown_class,
        "positive_rate": positive_rate,
        "associations": sorted((_association(frame, c, label) for c in features), key=lambda a: -abs(a["value"])),
        "violations": violations,
        "plots": [_plot(frame, c, label) for c in features],
    }
    template = jinja2.Environment(
        loader=jinja2.PackageLoader("pipelines.data", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    ).get_template("quality_report.html.j2")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"data-quality-{run.run_id}.html"
    path.write_text(template.render(context), encoding="utf-8")
    run.counts = {"rows": frame.height, "fit": int(not problems)}
    record(lake, run)
    return ReportResult(run.run_id, path, not problems, problems)
