"""What every task's evaluation shares: metrics per slice group, curves thinned for metadata, bootstrap resamples."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

MISSING_GROUP = "(missing)"


def slice_metrics(
    labels: np.ndarray, scores: np.ndarray, groups: pd.DataFrame, metrics: Callable[[np.ndarray, np.ndarray], dict]
) -> dict[str, dict[str, dict]]:
    """{slice column: {group value: metrics}} for every column in `groups` (null values form a "(missing)" group)."""
    result: dict[str, dict[str, dict]] = {}
    for column in groups.columns:
        values = groups[column].astype("string").fillna(MISSING_GROUP).to_numpy()
        result[column] = {
            str(value): metrics(labels[values == value], scores[values == value]) for value in sorted(set(values))
        }
    return result


def thin(series: dict[str, np.ndarray], points: int = 200) -> dict[str, list[float]]:
    """Every series at ≤ `points` evenly spaced positions, rounded: curves for metadata, which must stay small."""
    length = len(next(iter(series.values())))
    keep = np.unique(np.linspace(0, length - 1, min(points, length)).astype(int))
    return {name: np.asarray(values)[keep].round(4).tolist() for name, values in series.items()}


def resample_counts(rows: int, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """(rounds + 1, rows): how often each row is drawn in each resample; the first row is the sample itself."""
    drawn = rng.integers(0, rows, size=(rounds, rows)) + np.arange(rounds)[:, None] * rows
    counts = np.bincount(drawn.ravel(), minlength=rounds * rows).reshape(rounds, rows)
    return np.vstack([np.ones(rows, dtype=counts.dtype), counts])
