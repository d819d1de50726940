"""Regression: a LightGBM regressor predicting the contract's numeric target (price, demand, days to churn).

Metrics on the test rows: RMSE and MAE (lower is better, in the target's unit), R² (higher; 0 is the mean
predictor), the mean residual (bias). The gate asks for lift over the trivial predictors, the constant that needs
no model: RMSE against predicting the mean, MAE against predicting the median, R² against 0; each constant is
the best one *on the test rows themselves* (a stricter baseline than the training mean), recomputed in every
bootstrap resample. The card draws predicted vs actual and the residuals; monitoring judges late outcomes by
RMSE and MAE per window and compares their residuals with the test residuals the model recorded (residual drift:
a KS statistic, since a shifted or widened error distribution is what a drifting relation looks like).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from pipelines.config import Contract, ModelSettings, MonitoringSettings
from pipelines.tasks import Direction, Lift, evaluation
from pipelines.tasks.plots import png

MIN_DISTINCT_TARGETS = 10  # fewer distinct values: a classification in disguise, or a broken export
CURVE_POINTS = 300  # predicted-vs-actual points and residual quantiles kept in the model's metadata


def regression_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """RMSE, MAE, R² (None when the rows' target is constant: it is undefined there) and the mean residual."""
    labels, predictions = np.asarray(labels, dtype=float), np.asarray(predictions, dtype=float)
    residuals = labels - predictions
    spread = float(np.sum((labels - labels.mean()) ** 2)) if len(labels) else 0.0
    return {
        "rmse": float(np.sqrt(np.mean(residuals**2))) if len(labels) else None,
        "mae": float(np.mean(np.abs(residuals))) if len(labels) else None,
        "r2": 1 - float(np.sum(residuals**2)) / spread if spread > 0 else None,
        "mean_residual": float(np.mean(residuals)) if len(labels) else None,
        "test_rows": len(labels),
        "target_mean": float(labels.mean()) if len(labels) else None,
    }


def curves(labels: np.ndarray, predictions: np.ndarray) -> dict[str, dict[str, list[float]]]:
    """Predicted vs actual (rows ordered by actual, thinned evenly) and the residuals' quantiles: the card plots
    both, and monitoring compares late residuals with these."""
    order = np.argsort(labels, kind="stable")
    residuals = np.sort(np.asarray(labels, dtype=float) - predictions)
    return {
        "predicted_vs_actual": evaluation.thin(
            {"actual": labels[order], "predicted": predictions[order]}, CURVE_POINTS
        ),
        "residuals": evaluation.thin({"quantiles": residuals}, CURVE_POINTS),
    }


def lift_bounds(
    labels: np.ndarray, predictions: np.ndarray, confidences: Mapping[str, float], rounds: int = 1000, seed: int = 0
) -> dict[str, Lift]:
    """Each metric's improvement over its trivial constant (see the module docstring), with its lower bound at the
    metric's confidence over bootstrap resamples of the test rows (the first "resample" is the rows as they are)."""
    y, p = np.asarray(labels, dtype=float), np.asarray(predictions, dtype=float)
    n = len(y)
    if n < 2:
        nan = float("nan")
        return {m: Lift(m, nan, nan, nan, c, 0, n) for m, c in confidences.items()}
    w = evaluation.resample_counts(n, rounds, np.random.default_rng(seed)).astype(float)
    sse = w @ (y - p) ** 2
    mean = (w @ y) / n
    sse_mean = w @ y**2 - n * mean**2  # Σ w (y − mean)² with Σ w = n
    order = np.argsort(y, kind="stable")
    half = np.argmax(np.cumsum(w[:, order], axis=1) >= n / 2, axis=1)
    median = y[order][half]
    values = {
        "rmse": (np.sqrt(sse / n), np.sqrt(np.maximum(sse_mean, 0) / n)),
        "mae": ((w @ np.abs(y - p)) / n, np.sum(w * np.abs(y[None, :] - median[:, None]), axis=1) / n),
        "r2": (1 - sse / np.where(sse_mean > 0, sse_mean, np.nan), np.zeros(len(w))),
    }
    result = {}
    for metric, confidence in confidences.items():
        model, baseline = values[metric]
        gains = (model - baseline) if REGRESSION.metrics[metric] == "higher" else (baseline - model)
        result[metric] = Lift(
            metric,
            float(model[0]),
            float(baseline[0]),
            float(np.nanquantile(gains[1:], 1 - confidence)),
            confidence,
            rounds,
            n,
        )
    return result


def card_plots(metadata: Mapping[str, Any]) -> dict[str, str]:
    curves, metrics = metadata.get("curves", {}), metadata.get("metrics", {})
    plots: dict[str, str] = {}
    if "predicted_vs_actual" in curves:
        points = curves["predicted_vs_actual"]

        def scatter(ax):
            ax.scatter(points["actual"], points["predicted"], s=8, alpha=0.6)
            low = min(min(points["actual"]), min(points["predicted"]))
            high = max(max(points["actual"]), max(points["predicted"]))
            ax.plot([low, high], [low, high], "--", color="grey", label="perfect")
            ax.set(xlabel="actual", ylabel="predicted", title=f"predicted vs actual (R² {metrics.get('r2', 0):.3f})")
            ax.legend(loc="upper left")

        plots["Predicted vs actual"] = png(scatter)

        def residual_plot(ax):
            predicted = np.asarray(points["predicted"])
            ax.scatter(predicted, np.asarray(points["actual"]) - predicted, s=8, alpha=0.6)
            ax.axhline(0, ls="--", color="grey")
            ax.set(xlabel="predicted", ylabel="actual − predicted", title="residuals")

        plots["Residuals"] = png(residual_plot)
    if "residuals" in curves:

        def histogram(ax):
            ax.hist(curves["residuals"]["quantiles"], bins=30)
            ax.axvline(0, ls="--", color="grey")
            ax.set(xlabel="actual − predicted", ylabel="test rows (quantiles)", title="residual distribution")

        plots["Residual distribution"] = png(histogram)
    return plots


class Answer(BaseModel):
    """The service's answer for one record: the predicted value, in the target's unit."""

    model_config = ConfigDict(protected_namespaces=())

    prediction: float = Field(..., description="The predicted value of the target")
    model_version: str = Field(..., description="The BentoML model tag that answered")
    variant: str = Field(..., description="The A/B variant (serving.variants) whose model answered")


class RegressionTask:
    name = "regression"
    step = "regress"
    metrics: Mapping[str, Direction] = {"rmse": "lower", "mae": "lower", "r2": "higher"}
    headline = ("rmse", "mae", "r2", "mean_residual", "target_mean")
    lift_metrics: Mapping[str, str] = {
        "rmse": "predicting the mean",
        "mae": "predicting the median",
        "r2": "predicting the mean (0)",
    }
    decides = False  # answers its number: no validation rows held out of fitting
    contribution_unit = "target's unit"  # of the card's feature importance (TreeSHAP on the raw score)
    tune_metric = "rmse"
    outcome_metric = "rmse"
    answer = Answer
    score_column = "prediction"
    logged: Mapping[str, Any] = {"prediction": pl.Float64}

    def estimator(self, params: dict, seed: int) -> Any:
        from lightgbm import LGBMRegressor

        return LGBMRegressor(**params, random_state=seed, verbose=-1, n_jobs=1)

    def label(self, contract: Contract) -> pl.Expr:
        return pl.col(contract.target).cast(pl.Float64)

    def label_problem(self, labels: pd.Series, table: str) -> str | None:
        distinct = labels.nunique(dropna=True)
        if distinct < MIN_DISTINCT_TARGETS:
            return (
                f"{table} has {distinct} distinct target values; regression needs at least {MIN_DISTINCT_TARGETS}. "
                "If the target is a class, set contract.task = 'binary' and its positive_class."
            )
        return None

    def predict(self, model: Any, features: pd.DataFrame) -> np.ndarray:
        return model.predict(features)

    def choose_decision(self, labels: np.ndarray, scores: np.ndarray, settings: ModelSettings) -> None:
        return None  # a number is the answer: nothing to decide

    def decision_of(self, metadata: Mapping[str, Any]) -> float | None:
        return None

    def evaluate(
        self, labels: np.ndarray, scores: np.ndarray, slices: pd.DataFrame | None, decision: float | None
    ) -> dict:
        labels = np.asarray(labels, dtype=float)
        return {
            "metrics": regression_metrics(labels, scores),
            "slices": evaluation.slice_metrics(labels, scores, slices, regression_metrics)
            if slices is not None
            else {},
            "curves": curves(labels, scores),
        }

    def lift(
        self,
        labels: np.ndarray,
        scores: np.ndarray,
        decision: float | None,
        confidences: Mapping[str, float],
        rounds: int,
        seed: int,
    ) -> dict[str, Lift]:
        return lift_bounds(labels, scores, confidences, rounds, seed)

    def advice(self, failed: Sequence[str], metrics: Mapping[str, Any], metadata: Mapping[str, Any]) -> list[str]:
        if any(name.split(" ")[0] in self.metrics and " vs champion" not in name for name in failed):
            r2 = metrics.get("r2")
            return [
                f"fit: R² {r2 if r2 is not None else float('nan'):.3f} on {metrics.get('test_rows', 0)} test rows, "
                f"RMSE {metrics.get('rmse') or float('nan'):.4g} (predicting the mean scores R² 0): the model "
                "explains little of the target. Check the target column and its unit, that it is not shuffled away "
                "from its row, and that features are not mostly empty (`mlrig report`); then more rows, features "
                "that carry the signal, or `mlrig tune`. A skewed target (prices) often fits better as its log."
            ]
        return []

    def answer_problem(self, answer: Mapping[str, Any]) -> str | None:
        """What is wrong with one served answer (smoke checks), or None."""
        value = answer.get("prediction")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return f"prediction {value!r} is not a finite number"
        return None

    def card_plots(self, metadata: Mapping[str, Any]) -> dict[str, str]:
        return card_plots(metadata)

    def outcome_metrics(self, labels: np.ndarray, predictions: np.ndarray, decided: np.ndarray | None) -> dict:
        found = regression_metrics(labels, predictions)
        return {"outcomes": len(labels), **{k: found[k] for k in ("rmse", "mae", "r2", "mean_residual")}}

    def retrain_reasons(
        self,
        latest: pl.DataFrame,
        residuals: np.ndarray | None,
        metadata: Mapping[str, Any],
        settings: MonitoringSettings,
    ) -> list[str]:
        """The latest window's RMSE risen too far above the test RMSE, or its residuals drifted from the test's."""
        reasons = []
        training = (metadata.get("metrics") or {}).get("rmse")
        rmse = latest["rmse"].drop_nulls() if "rmse" in latest.columns else pl.Series([], dtype=pl.Float64)
        if rmse.len() and training:
            worst = float(rmse.max())
            if worst > training * (1 + settings.max_rmse_rise):
                reasons.append(
                    f"RMSE {worst:.4g} on late outcomes is {worst / training - 1:.0%} above {training:.4g} at "
                    f"training (limit {settings.max_rmse_rise:.0%})"
                )
        reference = ((metadata.get("curves") or {}).get("residuals") or {}).get("quantiles")
        if residuals is not None and len(residuals) >= settings.min_window_rows and reference:
            ks = residual_drift(residuals, np.asarray(reference))
            if ks > settings.max_residual_ks:
                reasons.append(f"residual drift: KS {ks:.3f} > {settings.max_residual_ks:g} against the test residuals")
        return reasons


def residual_drift(residuals: np.ndarray, reference_quantiles: np.ndarray) -> float:
    """KS statistic between late residuals and the test residuals (their recorded quantiles stand for them)."""
    return float(stats.ks_2samp(residuals, reference_quantiles).statistic)


REGRESSION = RegressionTask()
