"""Register: a trained model → the BentoML model store, with what it takes to reproduce and audit it.

The model's metadata carries the gold table and version it learned from, the contract hash, the code
commit, its parameters and metrics; the service refuses a model whose contract hash is not its own. Beside the
training Pipeline (`model.joblib`: explanation, the card, the gate's metrics) registration stores the serving
scorer compiled from it (pipelines/ml/scorer.py), with how closely it reproduced the Pipeline's probabilities on
the held-out rows (`serving_scorer` in the metadata); the gate checks that again before a promotion.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines import lake_files
from pipelines.config import Config
from pipelines.lineage import code_version
from pipelines.ml.scorer import agreement, compile_pipeline

if TYPE_CHECKING:  # the service imports this module for MODEL_FILE; training code must not ride along
    from pipelines.ml.train import TrainResult

MODEL_FILE = "model.joblib"
BENTOML_HOME_ENV = "BENTOML_HOME"


def use_bentoml_home(path: Path) -> None:
    """Point BentoML's model and Bento stores at the project's work folder (before bentoml is first used)."""
    for store in ("models", "bentos", "tmp"):  # BentoML makes these only for its default home
        (path / store).mkdir(parents=True, exist_ok=True)
    os.environ[BENTOML_HOME_ENV] = str(path)
    from bentoml._internal.configuration.containers import BentoMLContainer
    from simple_di import sentinel

    BentoMLContainer.bentoml_home.set(str(path))
    # The stores are built once per process from the home they first saw; forget them so a second home
    # (a test's fresh folder, a CLI call with another work dir) gets its own stores, not the first one's.
    for name in (
        "model_store_dir",
        "bento_store_dir",
        "env_store_dir",
        "tmp_bento_store_dir",
        "model_store",
        "bento_store",
    ):
        getattr(BentoMLContainer, name)._cache = sentinel  # simple_di's only way to forget a built singleton


def register(result: TrainResult, config: Config) -> str:
    """Save the model to the store and return its tag (name:version)."""
    import bentoml
    import joblib

    metadata = {
        "gold_table": result.gold_table,
        "gold_version": result.gold_version,
        "contract_hash": config.contract.fingerprint,
        "task": config.contract.task,
        "code_version": code_version(),
        "features": config.contract.feature_names,
        "params": {
            k: v for k, v in result.model.steps[-1][1].get_params().items() if isinstance(v, int | float | str | bool)
        },
        "metrics": result.metrics,
        "threshold": result.threshold.to_dict() if result.threshold else None,  # binary: gate, service, monitoring
        "slices": result.slices,
        "curves": result.curves,
        "importance": result.importance,
        "split": {
            "entity_key": config.contract.entity_key,
            "seed": config.model.seed,
            "test_fraction": config.model.test_fraction,
        },
        "train_rows": result.train_rows,
        "test_rows": result.test_rows,
        "gate": {"status": "not gated yet"},  # `mlrig gate` replaces this with its verdict
    }
    if result.test_features is None:
        raise ValueError("register needs the held-out rows (TrainResult.test_features) to check the serving scorer")
    scorer = compile_pipeline(result.model)  # the serving artifact: what the Bento serves
    metadata["serving_scorer"] = agreement(scorer, result.model, result.test_features)
    metadata = metadata_safe(metadata)
    labels = {"contract": config.contract.fingerprint, "dataset": config.contract.dataset}
    with bentoml.models.create(config.model.name, labels=labels, metadata=metadata) as stored:
        joblib.dump(result.model, stored.path_of(MODEL_FILE))
        scorer.save(Path(stored.path))
    return str(stored.tag)


def metadata_safe(value: object) -> object:
    """BentoML metadata refuses None: an undefined entry (a one-class slice's ROC AUC) is left out instead, and a
    NaN (JSON has none) likewise."""
    if isinstance(value, dict):
        return {str(k): metadata_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [metadata_safe(v) for v in value if v is not None]
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def record_metadata(tag: str, key: str, value: object) -> None:
    """Add one metadata entry to a stored model after the fact (the gate verdict); the artifact is untouched."""
    import bentoml

    stored = bentoml.models.get(tag)
    stored.info.metadata[key] = metadata_safe(value)
    stored.flush()


def load_model(tag: str) -> tuple[str, object, dict]:
    """The stored model behind `tag` (`name:latest` resolves): its full tag, the fitted pipeline, its metadata."""
    import bentoml
    import joblib

    stored = bentoml.models.get(tag)
    return str(stored.tag), joblib.load(stored.path_of(MODEL_FILE)), dict(stored.info.metadata)


def exported_path(config: Config, tag: str) -> str:
    """Where a model lives in the lake: <lake>/models/<name>/<version>.bentomodel (a path or an s3:// URL)."""
    name, _, version = tag.partition(":")
    return f"{config.models_url}/{name}/{version}.bentomodel"


def export_model(config: Config, tag: str) -> tuple[str, str]:
    """Copy a stored model into the lake, so jobs without this store can import it; return (its tag, where).

    Written again on every call: a gate verdict recorded after an earlier export must reach the lake too. Which model
    serves is the registry's question (registry.serving_tag), asked by the caller: this module sits below it.
    """
    import bentoml

    stored = bentoml.models.get(tag)
    target = exported_path(config, str(stored.tag))
    with _scratch(config) as folder:
        archive = folder / f"{stored.tag.version}.bentomodel"
        bentoml.models.export_model(stored.tag, str(archive))  # BentoML wants an absolute path
        lake_files.upload(archive, target)
    return str(stored.tag), target


def import_model(config: Config, tag: str) -> str:
    """Bring `name:version` from the lake into this store (a no-op if it is already here); return its tag."""
    import bentoml

    try:
        return str(bentoml.models.get(tag).tag)
    except bentoml.exceptions.NotFound:
        pass
    source = exported_path(config, tag)
    with _scratch(config) as folder:
        archive = folder / source.rsplit("/", 1)[-1]
        try:
            lake_files.download(source, archive)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"no exported model at {source}: run `mlrig export-model --tag {tag}` where it was trained."
            ) from None
        return str(bentoml.models.import_model(str(archive)).tag)


@contextmanager
def _scratch(config: Config) -> Iterator[Path]:
    """A temporary folder in the work folder (in a pod, the emptyDir; the root file system is read-only)."""
    config.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=config.work_dir, prefix="model-transfer-") as folder:
        yield Path(folder)
