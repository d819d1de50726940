"""Model card: one self-contained HTML file per registered model, for a reviewer who will not open a notebook.

Reads only the model's metadata in the store (metrics, curves, slices, importance, gate verdict, lineage), so
a card can be written for any model at any time, and says exactly what was recorded. Plots are matplotlib
PNGs embedded as base64: the file can be mailed, attached to a CI run or opened offline.
Written to <work>/reports/<model>-<version>.html.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from pipelines.config import Config
from pipelines.ml.register import load_model
from pipelines.tasks import get_task
from pipelines.tasks.plots import png

TEMPLATE = jinja2.Environment(
    loader=jinja2.PackageLoader("pipelines.ml", "templates"), autoescape=jinja2.select_autoescape()
).get_template("model_card.html.j2")


def _plots(metadata: dict, task) -> dict[str, str]:
    """The task's plots (ROC and calibration, or predicted vs actual and residuals), then feature importance."""
    plots = task.card_plots(metadata)
    importance = metadata.get("importance", {})
    if importance:

        def bars(ax):
            names = list(importance)[::-1]
            ax.barh(names, [importance[n] for n in names])
            ax.set(xlabel=f"mean |contribution| ({task.contribution_unit})", title="feature importance")

        plots["Feature importance"] = png(bars, 5.0, 3.6)
    return plots


def render_card(tag: str, metadata: dict, config: Config) -> str:
    """The card's HTML for one model's metadata (pure: no store, no files)."""
    metrics = metadata.get("metrics", {})
    task = get_task(metadata.get("task", config.contract.task))  # a model from before tasks was binary
    return TEMPLATE.render(
        tag=tag,
        task=task,
        project=config.project,
        contract=config.contract,
        metrics={k: metrics[k] for k in task.headline if k in metrics},
        slice_metrics=[m for m in task.headline if m in task.metrics],
        metadata=metadata,
        gate=metadata.get("gate", {}),
        slices=metadata.get("slices", {}),
        plots=_plots(metadata, task),
    )


def write_card(config: Config, tag: str | None = None) -> Path:
    """Write the card of `tag` (default: the latest registered model) and return its path."""
    full_tag, _, metadata = load_model(tag or f"{config.model.name}:latest")
    path = config.reports_dir / f"{full_tag.replace(':', '-')}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_card(full_tag, metadata, config), encoding="utf-8")
    return path
