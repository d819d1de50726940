"""The BentoML service: typed JSON in, the registered model's score out. One class, no feature logic.

Request models derive from the data contract; preprocessing ships inside the model artifact. Serve it with
`mlrig serve` (or `bentoml serve service.service:Scorer`) from the project folder.
"""

import os
from pathlib import Path
from typing import Annotated

import bentoml
import joblib
import pandas as pd
from pydantic import Field

from pipelines.config import CONFIG_ENV, load_config
from pipelines.ml.evaluate import DECISION_THRESHOLD
from pipelines.ml.register import MODEL_FILE
from pipelines.ml.registry import serving_tag
from service.schema import Score, example_request, request_model

# The config ships beside the code (project folder, or the Bento's src/); a relative path is taken from there.
SOURCE_ROOT = Path(__file__).resolve().parent.parent
CONFIG = load_config(SOURCE_ROOT / os.environ.get(CONFIG_ENV, "mlrig.toml"))
CONTRACT = CONFIG.contract
Features = request_model(CONTRACT)
NEGATIVE_CLASS = next(v for v in CONTRACT.columns[CONTRACT.target].allowed or () if v != CONTRACT.positive_class)


@bentoml.service(name=CONFIG.serving.service_name, traffic={"timeout": CONFIG.serving.timeout_s})
class Scorer:
    model_ref = bentoml.models.BentoModel(serving_tag(CONFIG))

    def __init__(self) -> None:
        stored_hash = self.model_ref.info.metadata.get("contract_hash")
        if stored_hash != CONTRACT.fingerprint:
            raise RuntimeError(
                f"model {self.model_ref.tag} was trained under contract {stored_hash}, but mlrig.toml is "
                f"{CONTRACT.fingerprint}: retrain (`mlrig train`) after changing the contract."
            )
        self.model = joblib.load(self.model_ref.path_of(MODEL_FILE))
        self.version = str(self.model_ref.tag)
        self._score_frame(pd.DataFrame([example_request(CONTRACT)]))  # warm-up: ready means able to answer

    def _score_frame(self, frame: pd.DataFrame) -> list[Score]:
        probabilities = self.model.predict_proba(frame[CONTRACT.feature_names])[:, 1]
        return [
            Score(
                probability=float(p),
                prediction=CONTRACT.positive_class if p >= DECISION_THRESHOLD else NEGATIVE_CLASS,
                model_version=self.version,
            )
            for p in probabilities
        ]

    @bentoml.api(route="/score")
    def score(self, features: Features, /) -> Score:  # type: ignore[valid-type]  # built from the contract
        """Score one record: the body is the record's features."""
        return self._score_frame(pd.DataFrame([features.model_dump()]))[0]

    @bentoml.api(route="/score_batch")
    def score_batch(
        self,
        records: Annotated[list[Features], Field(min_length=1, max_length=CONFIG.serving.max_batch_rows)],  # type: ignore[valid-type]
    ) -> list[Score]:
        """Score up to `serving.max_batch_rows` records in one call: {"records": [...]}."""
        return self._score_frame(pd.DataFrame([r.model_dump() for r in records]))
