"""The drift and performance report: one self-contained HTML file per monitoring run, for the person on call.

It says first whether to act (drifted features, performance breaches, the A/B verdict, the retrain decision),
then shows the evidence: every feature's statistics and, for each one, the reference and window distributions.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files, never a window
import matplotlib.pyplot as plt
import polars as pl

from pipelines.config import Contract
from pipelines.monitor.drift import DriftReport
from pipelines.monitor.outcomes import VariantVerdict
from pipelines.monitor.trigger import RetrainDecision


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def distribution_plot(reference: pl.Series, window: pl.Series, title: str, categorical: bool) -> str:
    figure, axis = plt.subplots(figsize=(4.2, 2.6))
    if categorical:
        levels = sorted({*reference.drop_nulls().to_list(), *window.drop_nulls().to_list()})
        for offset, (name, values) in enumerate((("reference", reference), ("window", window))):
            shares = [(values == level).sum() / max(values.len(), 1) for level in levels]
            axis.bar([i + offset * 0.4 for i in range(len(levels))], shares, width=0.4, label=name)
        axis.set_xticks([i + 0.2 for i in range(len(levels))], levels, rotation=30, fontsize=7)
    else:
        axis.hist(
            [reference.drop_nulls().to_numpy(), window.drop_nulls().to_numpy()],
            bins=30,
            density=True,
            label=["reference", "window"],
            histtype="stepfilled",
            alpha=0.5,
        )
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=7)
    return _png(figure)


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>nothing to show</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])

    def cell(value: object) -> str:
        return f"{value:.4g}" if isinstance(value, float) else html.escape(str(value))

    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row.values()) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_report(
    drift: DriftReport,
    reference: pl.DataFrame,
    window: pl.DataFrame,
    contract: Contract,
    decision: RetrainDecision,
    performance: pl.DataFrame | None,
    verdict: VariantVerdict | None,
    out_path: Path,
    title: str,
    residual_ks: float | None = None,
) -> Path:
    verdict_line = (
        f"Retrain: {'; '.join(decision.reasons)}"
        if decision.retrain
        else "No action: no drift and no performance breach"
    )
    if not drift.enough_data:
        verdict_line += f" (only {drift.window_rows} logged rows: too few for a drift verdict)"
    plots = "".join(
        distribution_plot(
            reference[f.feature],
            window[f.feature],
            f"{f.feature}{' — drifted' if f.drifted else ''}",
            categorical=f.kind == "categorical",
        )
        for f in drift.features
        if f.feature in reference.columns and f.feature in window.columns
    )
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="verdict {"act" if decision.retrain else "ok"}">{html.escape(verdict_line)}</p>',
        f"<p>Reference: {drift.reference_rows:,} training records; window: {drift.window_rows:,} served records; "
        f"contract {contract.fingerprint}.</p>",
        "<h2>Drift per feature</h2>",
        _table(drift.as_rows()),
    ]
    if performance is not None and performance.height:
        sections += ["<h2>Performance on outcomes</h2>", _table(performance.to_dicts())]
    if residual_ks is not None:
        sections += [
            "<h2>Residual drift</h2>",
            f"<p>KS statistic between the residuals (actual − predicted) of late outcomes and the model's test "
            f"residuals: {residual_ks:.3f}</p>",
        ]
    if verdict is not None:
        sections += ["<h2>A/B verdict</h2>", f"<p>{html.escape(verdict.sentence())}</p>"]
    sections += ["<h2>Distributions: reference against window</h2>", f'<div class="plots">{plots}</div>']
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:24px}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px}.verdict{font-size:1.2em;padding:8px;border-radius:6px}"
        ".act{background:#fde2e1}.ok{background:#e3f6e3}.plots img{margin:4px}</style></head><body>"
        + "".join(sections)
        + "</body></html>"
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out_path)
    return out_path
