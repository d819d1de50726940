"""The monitoring dashboard: one static HTML page, regenerated on every monitoring run, that people open.

Prediction volume, latency, the variant split, drift status over time, model performance on real outcomes
and what it means for the business (churners caught, precision of the retention list, value at stake).
Charts are plotly with its JavaScript inlined, so the page works offline and from a file.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
from plotly.offline import get_plotlyjs

from pipelines.monitor.outcomes import LABEL, LOGGED_AT, VARIANT, flagged

LATENCY_MS = "latency_ms"
CHART_HEIGHT = 320


@dataclass(frozen=True)
class DashboardInputs:
    predictions: pl.DataFrame  # the prediction log window
    drift_history: pl.DataFrame  # one row per monitoring run and feature: run_at, feature, psi, drifted
    performance: pl.DataFrame | None  # per window and variant: window, variant, roc_auc, precision, recall
    outcomes: pl.DataFrame | None  # predictions joined with their labels
    value_column: str | None  # e.g. monthly_charges: what a caught churner is worth per period
    value_periods: int  # e.g. 12: value at stake over a year
    positive_class: str | None = None  # what a logged "prediction" says when the model flagged a record
    task: str = "binary"  # a regressor flags nothing: no retention list, no business table


def _time_window(traces: list) -> list[dt.datetime] | None:
    """A window around the data when it spans one instant (a first run): plotly would zoom to milliseconds."""
    times = {x for trace in traces for x in (trace.x or ()) if isinstance(x, dt.datetime)}
    if len(times) != 1:
        return None
    (moment,) = times
    return [moment - dt.timedelta(hours=6), moment + dt.timedelta(hours=6)]


def _figure(traces: list, title: str, y_title: str, barmode: str | None = None) -> str:
    figure = go.Figure(traces)
    window = _time_window(traces) if barmode is None else None
    if window:
        figure.update_xaxes(range=window)
    if barmode is not None:
        figure.update_xaxes(type="category")  # labelled time buckets: plotly would read them as dates again
    figure.update_layout(
        title=title,
        height=CHART_HEIGHT,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        yaxis_title=y_title,
        barmode=barmode,
        template="plotly_white",
        legend={"orientation": "h"},
    )
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def _hourly(predictions: pl.DataFrame) -> pl.DataFrame:
    return predictions.with_columns(pl.col(LOGGED_AT).dt.truncate("1h").alias("hour"))


def volume_chart(predictions: pl.DataFrame) -> str:
    counts = _hourly(predictions).group_by("hour", VARIANT).len().sort("hour")
    traces = [
        go.Bar(x=g["hour"].dt.strftime("%Y-%m-%d, %Hh").to_list(), y=g["len"].to_list(), name=str(v))
        for (v,), g in counts.group_by(VARIANT, maintain_order=True)
    ]
    return _figure(traces, "Predictions per hour, by variant", "predictions", barmode="group")


def latency_chart(predictions: pl.DataFrame) -> str:
    per_hour = (
        _hourly(predictions)
        .group_by("hour")
        .agg(pl.col(LATENCY_MS).quantile(0.5).alias("p50"), pl.col(LATENCY_MS).quantile(0.99).alias("p99"))
        .sort("hour")
    )
    traces = [
        go.Scatter(x=per_hour["hour"].to_list(), y=per_hour[q].to_list(), name=q, mode="lines+markers")
        for q in ("p50", "p99")
    ]
    return _figure(traces, "Model latency per hour", "milliseconds")


def variant_split_chart(predictions: pl.DataFrame) -> str:
    split = predictions.group_by(VARIANT).len().sort(VARIANT)
    return _figure(
        [go.Bar(x=split[VARIANT].to_list(), y=split["len"].to_list(), name="predictions")],
        "Traffic split by variant",
        "predictions",
    )


def drift_chart(history: pl.DataFrame) -> str:
    traces = [
        go.Scatter(x=g["run_at"].to_list(), y=g["psi"].to_list(), name=str(f), mode="lines+markers")
        for (f,), g in history.sort("run_at").group_by("feature", maintain_order=True)
    ]
    return _figure(traces, "Drift (population stability index) per monitoring run", "PSI")


PERFORMANCE_SHOWN = {"roc_auc": "ROC AUC", "rmse": "RMSE"}  # the task's outcome metric (pipelines/tasks/)


def performance_chart(performance: pl.DataFrame) -> str:
    metric, shown = next((m, s) for m, s in PERFORMANCE_SHOWN.items() if m in performance.columns)
    traces = [
        go.Scatter(x=g["window"].to_list(), y=g[metric].to_list(), name=f"{v} {shown}", mode="lines+markers")
        for (v,), g in performance.group_by(VARIANT, maintain_order=True)
    ]
    return _figure(traces, "Performance on real outcomes", shown)


def business_table(
    outcomes: pl.DataFrame, value_column: str | None, value_periods: int, positive_class: str | None = None
) -> pl.DataFrame:
    """Per day: churners the retention list caught, its precision, and the value of the caught churners. The list is
    what the service decided, at the serving model's own threshold."""
    outcomes = outcomes.with_columns(flagged(outcomes, positive_class).alias("_flagged"))
    flagged_rows = pl.col("_flagged")
    caught = flagged_rows & (pl.col(LABEL) == 1)
    value = (pl.col(value_column).filter(caught).sum() * value_periods) if value_column else pl.lit(None)
    return (
        outcomes.with_columns(pl.col(LOGGED_AT).dt.truncate("1d").alias("day"))
        .group_by("day")
        .agg(
            caught.sum().alias("churners_caught"),
            (pl.col(LABEL) == 1).sum().alias("churners"),
            (caught.sum() / flagged_rows.sum()).alias("list_precision"),
            value.alias("value_at_stake"),
        )
        .sort("day")
    )


def business_chart(table: pl.DataFrame) -> str:
    traces = [
        go.Bar(
            x=table["day"].dt.strftime("%Y-%m-%d").to_list(),
            y=table["churners_caught"].to_list(),
            name="churners caught",
        ),
        go.Bar(x=table["day"].dt.strftime("%Y-%m-%d").to_list(), y=table["churners"].to_list(), name="churners"),
    ]
    return _figure(traces, "Churners caught by the retention list", "customers", barmode="group")


def _kpis(inputs: DashboardInputs, business: pl.DataFrame | None) -> list[tuple[str, str]]:
    p = inputs.predictions
    latest_drift = inputs.drift_history.filter(pl.col("run_at") == inputs.drift_history["run_at"].max())
    drifted = latest_drift.filter(pl.col("drifted"))["feature"].to_list()
    kpis = [
        ("predictions", f"{p.height:,}"),
        ("p99 latency", f"{p[LATENCY_MS].quantile(0.99):.1f} ms" if p.height else "–"),
        ("drift", ", ".join(drifted) if drifted else "none"),
    ]
    if business is not None and business.height:
        kpis.append(
            ("churners caught", f"{int(business['churners_caught'].sum()):,} of {int(business['churners'].sum()):,}")
        )
        if business["value_at_stake"].dtype != pl.Null:
            kpis.append(("value at stake", f"{business['value_at_stake'].sum():,.0f}"))
    return kpis


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#222}}.kpis{{display:flex;gap:16px;flex-wrap:wrap}}
.kpi{{border:1px solid #ddd;border-radius:8px;padding:12px 16px;min-width:150px}}.kpi b{{display:block;font-size:1.4em}}
.grid{{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px;margin-top:16px}}</style>
<script>{plotly_js}</script></head>
<body><h1>{title}</h1><p>Generated {generated} from {rows} logged predictions.</p>
<div class="kpis">{kpis}</div><div class="grid">{charts}</div>
<script>/* charts drawn before the grid was complete fit their cells once told the final size */
window.addEventListener("load", () => window.dispatchEvent(new Event("resize")));</script></body></html>
"""


def render_dashboard(inputs: DashboardInputs, title: str, out_path: Path) -> Path:
    business = (
        business_table(inputs.outcomes, inputs.value_column, inputs.value_periods, inputs.positive_class)
        if inputs.outcomes is not None and inputs.outcomes.height and inputs.task == "binary"
        else None
    )
    charts = [
        volume_chart(inputs.predictions),
        latency_chart(inputs.predictions),
        variant_split_chart(inputs.predictions),
        drift_chart(inputs.drift_history),
    ]
    if inputs.performance is not None and inputs.performance.height:
        charts.append(performance_chart(inputs.performance))
    if business is not None:
        charts.append(business_chart(business))
    page = PAGE.format(
        title=html.escape(title),
        plotly_js=get_plotlyjs(),
        rows=f"{inputs.predictions.height:,}",
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        kpis="".join(
            f'<div class="kpi">{html.escape(k)}<b>{html.escape(v)}</b></div>' for k, v in _kpis(inputs, business)
        ),
        charts="".join(f'<div class="chart">{c}</div>' for c in charts),
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out_path)
    return out_path
