"""Drift: how far a window of served records has moved from the records the model learned from.

Numerics get the population stability index over the reference's deciles (missing values are a bin of their
own: a feature that starts arriving empty has drifted), the Kolmogorov–Smirnov statistic and the Wasserstein
distance in reference standard deviations. Categoricals get PSI, chi-square and the Jensen–Shannon distance
over the contract's allowed values. Limits come from `[monitoring]`; scipy does the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import stats
from scipy.spatial.distance import jensenshannon

from pipelines.config import Column, Contract, MonitoringSettings

PSI_FLOOR = 1e-4  # an empty bin would make PSI infinite; this share stands in for "almost never seen"
DECILES = np.linspace(0, 1, 11)[1:-1]


class DriftInputError(ValueError):
    """The reference or the window cannot be compared (missing column, nothing to compare)."""


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str  # "numeric" | "categorical"
    statistics: dict[str, float]
    breaches: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.breaches)


@dataclass(frozen=True)
class DriftReport:
    reference_rows: int
    window_rows: int
    features: list[FeatureDrift]
    enough_data: bool

    @property
    def drifted(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted] if self.enough_data else []

    def as_rows(self) -> list[dict]:
        return [
            {
                "feature": f.feature,
                "kind": f.kind,
                **f.statistics,
                "drifted": f.drifted,
                "breaches": "; ".join(f.breaches),
            }
            for f in self.features
        ]


def population_stability_index(reference_share: np.ndarray, current_share: np.ndarray) -> float:
    ref = np.clip(reference_share, PSI_FLOOR, None)
    cur = np.clip(current_share, PSI_FLOOR, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def _binned_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares per decile bin, plus a last bin for missing values."""
    present = values[~np.isnan(values)]
    counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
    return _shares(np.append(counts, np.isnan(values).sum()))


def numeric_drift(reference: np.ndarray, current: np.ndarray) -> dict[str, float]:
    reference, current = reference.astype(float), current.astype(float)
    ref_present, cur_present = reference[~np.isnan(reference)], current[~np.isnan(current)]
    if ref_present.size == 0 or cur_present.size == 0:
        raise DriftInputError("a numeric feature has no values in the reference or the window")
    edges = np.unique(np.quantile(ref_present, DECILES))
    scale = float(np.std(ref_present)) or 1.0
    return {
        "psi": population_stability_index(_binned_shares(reference, edges), _binned_shares(current, edges)),
        "ks": float(stats.ks_2samp(ref_present, cur_present).statistic),
        "wasserstein_std": float(stats.wasserstein_distance(ref_present, cur_present) / scale),
        "missing_share": float(np.isnan(current).mean()),
    }


def categorical_drift(reference: list, current: list, categories: tuple[str, ...]) -> dict[str, float]:
    levels = [*categories, None]

    def counts(values: list) -> np.ndarray:
        index = {level: i for i, level in enumerate(levels)}
        out = np.zeros(len(levels))
        for value in values:
            out[index.get(value, len(levels) - 1)] += 1  # unknown values count with missing
        return out

    ref_counts, cur_counts = counts(reference), counts(current)
    seen = (ref_counts + cur_counts) > 0
    chi2 = stats.chi2_contingency(np.vstack([ref_counts[seen], cur_counts[seen]])) if seen.sum() > 1 else None
    return {
        "psi": population_stability_index(_shares(ref_counts), _shares(cur_counts)),
        "js": float(jensenshannon(_shares(ref_counts), _shares(cur_counts), base=2)),
        "chi2_pvalue": float(chi2.pvalue) if chi2 is not None else 1.0,
    }


def _breaches(stats_: dict[str, float], column: Column, settings: MonitoringSettings) -> list[str]:
    limits = settings.limits_for(column.name)
    checks = [("psi", limits.psi_max)]
    checks.append(("js", limits.js_max) if column.dtype == "category" else ("ks", limits.ks_max))
    return [
        f"{name} {stats_[name]:.3f} > {limit:g}" for name, limit in checks if limit is not None and stats_[name] > limit
    ]


def feature_drift(
    reference: pl.DataFrame, window: pl.DataFrame, column: Column, settings: MonitoringSettings
) -> FeatureDrift:
    if column.dtype == "category":
        statistics = categorical_drift(
            reference[column.name].to_list(), window[column.name].to_list(), column.allowed or ()
        )
        kind = "categorical"
    else:
        statistics = numeric_drift(
            reference[column.name].cast(pl.Float64).to_numpy(), window[column.name].cast(pl.Float64).to_numpy()
        )
        kind = "numeric"
    return FeatureDrift(column.name, kind, statistics, _breaches(statistics, column, settings))


def detect_drift(
    reference: pl.DataFrame,
    window: pl.DataFrame,
    contract: Contract,
    settings: MonitoringSettings,
    score_column: str | None = None,
) -> DriftReport:
    """Compare every contract feature (and the model's score, if both frames carry it) between the two frames."""
    for name, frame in (("reference", reference), ("window", window)):
        missing = [c for c in contract.feature_names if c not in frame.columns]
        if missing:
            raise DriftInputError(f"the {name} lacks feature column(s) {missing}")
    columns = list(contract.features)
    if score_column and score_column in reference.columns and score_column in window.columns:
        columns.append(Column(name=score_column, dtype="float", min=0, max=1))
    enough = window.height >= settings.min_window_rows
    features = [feature_drift(reference, window, c, settings) for c in columns] if window.height else []
    return DriftReport(reference.height, window.height, features, enough)
