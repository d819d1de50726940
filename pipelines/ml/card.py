"""Model card: one self-contained HTML file per registered model, for a reviewer who will not open a notebook.

Reads only the model's metadata in the store (metrics, curves, slices, importance, gate verdict, lineage), so
a card can be written for any model at any time, and says exactly what was recorded. Plots are matplotlib
PNGs embedded as base64: the file can be mailed, attached to a CI run or opened offline.
Written to <work>/reports/<model>-<version>.html.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import jinja2
from matplotlib.figure import Figure  # not pyplot: no global figure state, no display backend needed

from pipelines.config import Config
from pipelines.ml.register import load_model

TEMPLATE = jinja2.Environment(
    loader=jinja2.PackageLoader("pipelines.ml", "templates"), autoescape=jinja2.select_autoescape()
).get_template("model_card.html.j2")
HEADLINE = ("roc_auc", "f1", "precision", "recall", "accuracy", "brier", "positive_rate")


def _png(draw, width: float = 4.2, height: float = 3.4) -> str:
    figure = Figure(figsize=(width, height), dpi=90)
    draw(figure.subplots())
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plots(metadata: dict) -> dict[str, str]:
    curves, metrics = metadata.get("curves", {}), metadata.get("metrics", {})
    plots: dict[str, str] = {}
    if "roc" in curves:

        def roc(ax):
            ax.plot(curves["roc"]["fpr"], curves["roc"]["tpr"], label=f"AUC {metrics.get('roc_auc', 0):.3f}")
            ax.plot([0, 1], [0, 1], "--", color="grey")
            ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
            ax.legend(loc="lower right")

        plots["ROC"] = _png(roc)
    if "precision_recall" in curves:

        def pr(ax):
            ax.plot(curves["precision_recall"]["recall"], curves["precision_recall"]["precision"])
            ax.axhline(metrics.get("positive_rate", 0), ls="--", color="grey", label="base rate")
            ax.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
            ax.legend(loc="upper right")

        plots["Precision-recall"] = _png(pr)
    if "calibration" in curves:

        def reliability(ax):
            ax.plot(curves["calibration"]["predicted"], curves["calibration"]["observed"], "o-")
            ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
            ax.set(xlabel="mean predicted probability", ylabel="observed positive rate", title="calibration")
            ax.legend(loc="upper left")

        plots["Calibration"] = _png(reliability)
    if "confusion_matrix" in metrics:

        def confusion(ax):
            cm = metrics["confusion_matrix"]
            cells = [[cm["tn"], cm["fp"]], [cm["fn"], cm["tp"]]]
            ax.imshow(cells, cmap="Blues")
            for i in range(2):
                for j in range(2):
                    dark = cells[i][j] > max(max(row) for row in cells) / 2  # white on the dark cells
                    ax.text(j, i, str(cells[i][j]), ha="center", va="center", color="white" if dark else "black")
            ax.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="actual", title="confusion matrix")
            ax.set_xticklabels(["negative", "positive"])
            ax.set_yticklabels(["negative", "positive"])

        plots["Confusion matrix"] = _png(confusion, 3.6, 3.2)
    importance = metadata.get("importance", {})
    if importance:

        def bars(ax):
            names = list(importance)[::-1]
            ax.barh(names, [importance[n] for n in names])
            ax.set(xlabel="mean |contribution| (log-odds)", title="feature importance")

        plots["Feature importance"] = _png(bars, 5.0, 3.6)
    return plots


def render_card(tag: str, metadata: dict, config: Config) -> str:
    """The card's HTML for one model's metadata (pure: no store, no files)."""
    metrics = metadata.get("metrics", {})
    return TEMPLATE.render(
        tag=tag,
        project=config.project,
        contract=config.contract,
        metrics={k: metrics[k] for k in HEADLINE if k in metrics},
        metadata=metadata,
        gate=metadata.get("gate", {}),
        slices=metadata.get("slices", {}),
        plots=_plots(metadata),
    )


def write_card(config: Config, tag: str | None = None) -> Path:
    """Write the card of `tag` (default: the latest registered model) and return its path."""
    full_tag, _, metadata = load_model(tag or f"{config.model.name}:latest")
    path = config.reports_dir / f"{full_tag.replace(':', '-')}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_card(full_tag, metadata, config), encoding="utf-8")
    return path
