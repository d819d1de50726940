"""The BentoML service: typed JSON in, a registered model's score out. One class, no feature logic.

Request models derive from the data contract; every variant in `serving.variants` serves the compiled scorer
registered with its model (pipelines/ml/scorer.py). A request is routed to one variant by weight, sticky on its
`X-Request-Key` header; shadow variants score it too without answering; every answer is logged to the lake.
`/score` and `/score_batch` are answered by the front door (service/front_door.py), an ASGI app this service
puts in front of BentoML's own; BentoML keeps the packaging, the probes, /metrics, the docs and the lifecycle.
Serve it with `mlrig serve` (or `bentoml serve service.service:Scorer`) from the project folder.
"""

import gc
import os
import time
import uuid
from pathlib import Path
from typing import Any

import bentoml

from pipelines.config import CONFIG_ENV, load_config
from pipelines.contract import example_request
from pipelines.ml.scorer import load_scorer
from pipelines.pii import PiiKeyError, pii_key, pseudonymize_value
from pipelines.tasks import get_task
from service.front_door import REQUEST_ID_HEADER, REQUEST_KEY_HEADER, FrontDoor, Route, ScoringSlot
from service.metrics import serving_metrics
from service.prediction_log import PredictionLog, log_schema, loggable_features, predictions_table
from service.routing import Router, configured_variants, resolved_tags
from service.schema import answer_model, batch_model, request_model
from service.scoring import Scoring, Variant, warm_up
from service.shape import Shape

# The config ships beside the code (project folder, or the Bento's src/); a relative path is taken from there.
SOURCE_ROOT = Path(__file__).resolve().parent.parent
IN_BENTO = (SOURCE_ROOT.parent / "bento.yaml").is_file()  # <bento>/src/service/service.py
# Inside a Bento the config shipped with it is the one the model was packaged for, whatever the shell says.
CONFIG = load_config(SOURCE_ROOT / ("mlrig.toml" if IN_BENTO else os.environ.get(CONFIG_ENV, "mlrig.toml")))
CONTRACT = CONFIG.contract
SERVING = CONFIG.serving
FEATURES = tuple(CONTRACT.feature_names)
Features = request_model(CONTRACT)
Batch = batch_model(CONTRACT, SERVING.max_batch_rows, Features)
TASK = get_task(CONTRACT.task)
Score = answer_model(CONTRACT)
# binary: the two classes a decision names; regression answers its number (no classes)
NEGATIVE_CLASS = next(
    (v for v in CONTRACT.columns[CONTRACT.target].allowed or () if v != CONTRACT.positive_class), None
)
VARIANTS = configured_variants(CONFIG)
MODEL_TAGS = resolved_tags(CONFIG)
ROUTES = (
    Route("/score", Features, Shape.record(len(FEATURES)), many=False),
    Route("/score_batch", Batch, Shape.batch(len(FEATURES), SERVING.max_batch_rows), many=True),
)
SLOT = ScoringSlot()  # filled by the service instance, read by this process's front door


def _pii_key_or_none() -> str | None:
    """The key that pseudonymises request keys in the log; without one (none set, nowhere to keep a demo key)
    request keys are not logged at all, never logged in clear."""
    try:
        return pii_key(CONFIG.work_dir)[0]
    except (OSError, PiiKeyError):
        return None


def _decision(metadata: dict) -> dict[str, float]:
    """A binary model's threshold, chosen for it in training (never a fixed 0.5); a regressor decides nothing."""
    threshold = TASK.decision_of(metadata)
    return {} if threshold is None else {"threshold": threshold}


class ScorerService(bentoml.Service):
    """BentoML's service, with the front door in front of its ASGI app (`bentoml.service(service_class=...)`)."""

    def to_asgi(self, is_main: bool = True) -> Any:
        return FrontDoor(super().to_asgi(is_main), ROUTES, FEATURES, SERVING, SLOT)


class _Scorer:
    def __init__(self) -> None:
        variants = {name: self._load(name, getattr(self, f"model_{name}")) for name in VARIANTS}
        warm_up(variants, example_request(CONTRACT))  # ready means every variant has answered once
        key = _pii_key_or_none()
        self.scoring = Scoring(
            variants,
            Router.from_variants(VARIANTS),
            loggable_features(CONTRACT),
            PredictionLog(predictions_table(CONFIG), log_schema(CONTRACT), SERVING.log_flush_rows, SERVING.log_flush_s)
            if SERVING.log_predictions
            else None,
            serving_metrics(),
            (lambda request_key: pseudonymize_value(request_key, key)) if key else (lambda _: None),
        )
        SLOT.scoring = self.scoring
        gc.freeze()  # the loaded models are long-lived: keep them out of every garbage collection

    @staticmethod
    def _load(name: str, ref: bentoml.Model) -> Variant:
        stored_hash = ref.info.metadata.get("contract_hash")
        if stored_hash != CONTRACT.fingerprint:
            raise RuntimeError(
                f"model {ref.tag} was trained under contract {stored_hash}, but mlrig.toml is "
                f"{CONTRACT.fingerprint}: retrain (`mlrig train`) after changing the contract."
            )
        return Variant(
            name=name,
            version=str(ref.tag),
            scorer=load_scorer(Path(ref.path)),
            positive=CONTRACT.positive_class,
            negative=NEGATIVE_CLASS,
            **_decision(ref.info.metadata),
        )

    @bentoml.on_shutdown
    def flush_prediction_log(self) -> None:
        if self.scoring.log is not None:
            self.scoring.log.close()

    # The two API methods declare the routes to BentoML (OpenAPI document, typed clients). Over HTTP the front
    # door answers them, with the same Scoring; these bodies serve in-process callers.
    @bentoml.api(route="/score")
    def score(self, features: Features, /, ctx: bentoml.Context) -> Score:  # type: ignore[valid-type]  # from the contract/task
        """Score one record: the body is the record's features. Optional headers: `X-Request-Key` (sticky A/B
        routing, e.g. a customer id), `X-Request-Id` (echoed, and logged with the prediction)."""
        return Score(**self._score("/score", ROUTES[0], features, ctx)[0])

    @bentoml.api(route="/score_batch")
    def score_batch(self, request: Batch, /, ctx: bentoml.Context) -> list[Score]:  # type: ignore[valid-type]  # task
        """Score up to `serving.max_batch_rows` records in one call: {"records": [...]}; one variant answers all."""
        return [Score(**answer) for answer in self._score("/score_batch", ROUTES[1], request, ctx)]

    def _score(self, path: str, route: Route, request: Any, ctx: bentoml.Context) -> list[dict]:
        headers = ctx.request.headers
        request_id = headers.get(REQUEST_ID_HEADER.decode()) or uuid.uuid4().hex
        columns, rows = route.columns(request, FEATURES)
        scored = self.scoring.score(
            path, columns, rows, request_id, headers.get(REQUEST_KEY_HEADER.decode()), time.perf_counter()
        )
        ctx.response.headers["x-model-variant"] = scored.variant.name
        ctx.response.headers[REQUEST_ID_HEADER.decode()] = request_id
        return scored.records()


# One model reference per variant, on the class, so the Bento records every model it ships.
for _name, _tag in MODEL_TAGS.items():
    setattr(_Scorer, f"model_{_name}", bentoml.models.BentoModel(_tag))

Scorer = bentoml.service(
    name=SERVING.service_name,
    service_class=ScorerService,
    traffic={"timeout": SERVING.timeout_s},
    http={"cors": {"enabled": True, "access_control_allow_origins": list(SERVING.cors_origins)}}
    if SERVING.cors_origins
    else {},
)(_Scorer)
