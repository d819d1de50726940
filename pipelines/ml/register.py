"""Register: a trained model → the BentoML model store, with what it takes to reproduce and audit it.

The model's metadata carries the gold table and version it learned from, the contract hash, the code
commit, its parameters and metrics; the service refuses a model whose contract hash is not its own.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.config import Config
from pipelines.lineage import code_version
from pipelines.ml.train import TrainResult

MODEL_FILE = "model.joblib"
BENTOML_HOME_ENV = "BENTOML_HOME"


def use_bentoml_home(path: Path) -> None:
    """Point BentoML's model and Bento stores at the project's work folder (before bentoml is first used)."""
    for store in ("models", "bentos", "tmp"):  # BentoML makes these only for its default home
        (path / store).mkdir(parents=True, exist_ok=True)
    os.environ[BENTOML_HOME_ENV] = str(path)
    from bentoml._internal.configuration.containers import BentoMLContainer

    BentoMLContainer.bentoml_home.set(str(path))


def register(result: TrainResult, config: Config) -> str:
    """Save the model to the store and return its tag (name:version)."""
    import bentoml
    import joblib

    metadata = {
        "gold_table": result.gold_table,
        "gold_version": result.gold_version,
        "contract_hash": config.contract.fingerprint,
        "code_version": code_version(),
        "features": config.contract.feature_names,
        "params": {
            k: v
            for k, v in result.model.named_steps["classify"].get_params().items()
            if isinstance(v, int | float | str | bool)
        },
        "metrics": result.metrics,
        "train_rows": result.train_rows,
        "test_rows": result.test_rows,
    }
    labels = {"contract": config.contract.fingerprint, "dataset": config.contract.dataset}
    with bentoml.models.create(config.model.name, labels=labels, metadata=metadata) as stored:
        joblib.dump(result.model, stored.path_of(MODEL_FILE))
    return str(stored.tag)
