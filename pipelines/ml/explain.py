"""Explain: why the model scored a record the way it did, in the contract's feature names.

Contributions are LightGBM's TreeSHAP values (`pred_contrib=True`) on the pipeline's own transformed
features, so they add up exactly, with the base value, to the model's log-odds for that record. The
pipeline keeps one transformed column per contract feature (ordinal codes, numbers passed through), so
each contribution maps back to the feature a caller sent. Global importance is the mean |contribution|
over the test split: cheap (one pass) and consistent with the per-record explanations the service gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from pipelines.config import Contract


def contributions(model: Pipeline, frame: pd.DataFrame, contract: Contract) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-row log-odds contributions, one column per contract feature, and each row's base value."""
    prepared = model[:-1].transform(frame[contract.feature_names])
    raw = model[-1].predict(prepared, pred_contrib=True)
    values = pd.DataFrame(raw[:, :-1], columns=list(prepared.columns), index=frame.index)
    return values[contract.feature_names], raw[:, -1]


def explain_records(model: Pipeline, frame: pd.DataFrame, contract: Contract, top: int | None = None) -> list[dict]:
    """What the service returns per record: base log-odds and each feature's push, largest first.

    `top` keeps the `top` largest |contributions|; the rest are summed into "(other features)" so the
    total still adds up to the record's log-odds.
    """
    values, base = contributions(model, frame, contract)
    explained = []
    for (_, row), base_value in zip(values.iterrows(), base, strict=True):
        ordered = row.reindex(row.abs().sort_values(ascending=False).index)
        pushes = {name: float(v) for name, v in ordered.items()}
        if top is not None and len(pushes) > top:
            kept = dict(list(pushes.items())[:top])
            kept["(other features)"] = float(sum(list(pushes.values())[top:]))
            pushes = kept
        explained.append({"base_log_odds": float(base_value), "contributions": pushes})
    return explained


def global_importance(model: Pipeline, frame: pd.DataFrame, contract: Contract) -> dict[str, float]:
    """Mean |contribution| per feature over `frame`, largest first (what the card's importance chart shows)."""
    values, _ = contributions(model, frame, contract)
    mean_abs = values.abs().mean().sort_values(ascending=False)
    return {name: round(float(v), 6) for name, v in mean_abs.items()}
