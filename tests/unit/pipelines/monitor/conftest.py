from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pipelines.config import Contract


def sample_features(contract: Contract, rows: int, seed: int) -> pl.DataFrame:
    """Records drawn from fixed distributions built from the contract alone: same law for every seed."""
    rng = np.random.default_rng(seed)
    data = {}
    for column in contract.features:
        if column.dtype == "category":
            allowed = list(column.allowed or ())
            weights = np.arange(len(allowed), 0, -1, dtype=float)
            data[column.name] = rng.choice(allowed, rows, p=weights / weights.sum()).tolist()
        else:
            high = (column.max or 100) / 20
            values = rng.gamma(2.0, high / 4, rows)
            if column.nullable:
                values[rng.random(rows) < 0.05] = np.nan
            data[column.name] = np.round(values) if column.dtype == "int" else values
    return pl.DataFrame(data).fill_nan(None)


@pytest.fixture
def sampler(contract):
    return lambda rows, seed: sample_features(contract, rows, seed)
