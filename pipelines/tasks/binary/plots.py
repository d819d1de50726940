"""The binary task's card plots, from a model's recorded curves and metrics: ROC, precision-recall, calibration,
the confusion matrix at the model's threshold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.tasks.plots import png


def card_plots(metadata: Mapping[str, Any]) -> dict[str, str]:
    curves, metrics = metadata.get("curves", {}), metadata.get("metrics", {})
    plots: dict[str, str] = {}
    if "roc" in curves:

        def roc(ax):
            ax.plot(curves["roc"]["fpr"], curves["roc"]["tpr"], label=f"AUC {metrics.get('roc_auc', 0):.3f}")
            ax.plot([0, 1], [0, 1], "--", color="grey")
            ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
            ax.legend(loc="lower right")

        plots["ROC"] = png(roc)
    if "precision_recall" in curves:

        def pr(ax):
            ax.plot(curves["precision_recall"]["recall"], curves["precision_recall"]["precision"])
            ax.axhline(metrics.get("positive_rate", 0), ls="--", color="grey", label="base rate")
            ax.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
            ax.legend(loc="upper right")

        plots["Precision-recall"] = png(pr)
    if "calibration" in curves:

        def reliability(ax):
            ax.plot(curves["calibration"]["predicted"], curves["calibration"]["observed"], "o-")
            ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
            ax.set(xlabel="mean predicted probability", ylabel="observed positive rate", title="calibration")
            ax.legend(loc="upper left")

        plots["Calibration"] = png(reliability)
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

        plots["Confusion matrix"] = png(confusion, 3.6, 3.2)
    return plots
