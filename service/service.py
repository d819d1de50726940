"""The BentoML service: typed JSON in, a registered model's score out. One class, no feature logic.

Request models derive from the data contract; preprocessing ships inside the model artifact. Every variant in
`serving.variants` is loaded; a request is routed to one by weight, sticky on its `X-Request-Key` header, and
shadow variants score it too without answering. Each answer is logged to the lake (service/prediction_log.py).
The guard middleware (service/guard.py) checks keys, body size and JSON before a request reaches this class.
Serve it with `mlrig serve` (or `bentoml serve service.service:Scorer`) from the project folder.
"""

import gc
import os
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import bentoml
import joblib
import pandas as pd
from pydantic import Field

from pipelines.config import CONFIG_ENV, load_config
from pipelines.ml.register import MODEL_FILE
from pipelines.ml.threshold import decide, threshold_of
from pipelines.pii import PiiKeyError, pii_key, pseudonymize_value
from service.batching import SCORE_IN_FLIGHT, RowBatcher
from service.guard import RequestGuard
from service.metrics import serving_metrics
from service.prediction_log import PredictionLog, log_schema, loggable_inputs, predictions_table
from service.routing import Router, configured_variants, resolved_tags
from service.schema import Score, example_request, request_model

# The config ships beside the code (project folder, or the Bento's src/); a relative path is taken from there.
SOURCE_ROOT = Path(__file__).resolve().parent.parent
IN_BENTO = (SOURCE_ROOT.parent / "bento.yaml").is_file()  # <bento>/src/service/service.py
# Inside a Bento the config shipped with it is the one the model was packaged for, whatever the shell says.
CONFIG = load_config(SOURCE_ROOT / ("mlrig.toml" if IN_BENTO else os.environ.get(CONFIG_ENV, "mlrig.toml")))
CONTRACT = CONFIG.contract
SERVING = CONFIG.serving
Features = request_model(CONTRACT)
NEGATIVE_CLASS = next(v for v in CONTRACT.columns[CONTRACT.target].allowed or () if v != CONTRACT.positive_class)
VARIANTS = configured_variants(CONFIG)
MODEL_TAGS = resolved_tags(CONFIG)
REQUEST_KEY_HEADER = "x-request-key"  # e.g. a customer id: the same key always gets the same variant
REQUEST_ID_HEADER = "x-request-id"
PREDICTION_ROUTES = ("/score", "/score_batch")


def _pii_key_or_none() -> str | None:
    """The key that pseudonymises request keys in the log; without one (none set, nowhere to keep a demo key)
    request keys are not logged at all, never logged in clear."""
    try:
        return pii_key(CONFIG.work_dir)[0]
    except (OSError, PiiKeyError):
        return None


class _Scorer:
    def __init__(self) -> None:
        self.models = {name: self._load(getattr(self, f"model_{name}")) for name in VARIANTS}
        self.versions = {name: str(getattr(self, f"model_{name}").tag) for name in VARIANTS}
        # each model decides at the threshold chosen for it in training (its metadata), never a fixed 0.5
        self.thresholds = {name: threshold_of(getattr(self, f"model_{name}").info.metadata) for name in VARIANTS}
        self.router = Router.from_variants(VARIANTS)
        self.log = (
            PredictionLog(predictions_table(CONFIG), log_schema(CONTRACT), SERVING.log_flush_rows, SERVING.log_flush_s)
            if SERVING.log_predictions
            else None
        )
        self.metrics = serving_metrics()
        self.pii_key = _pii_key_or_none()
        self.batcher = RowBatcher(
            lambda variant, rows: self._score_rows("/score", variant, rows),
            SERVING.max_batch_size,
            SERVING.max_latency_ms,
        )
        warm_up = pd.DataFrame([example_request(CONTRACT)])
        for name in self.models:  # ready means every variant has answered once
            self._probabilities(name, warm_up)
        gc.freeze()  # the loaded models are long-lived: keep them out of every garbage collection

    @staticmethod
    def _load(ref: bentoml.models.BentoModel) -> Any:
        stored_hash = ref.info.metadata.get("contract_hash")
        if stored_hash != CONTRACT.fingerprint:
            raise RuntimeError(
                f"model {ref.tag} was trained under contract {stored_hash}, but mlrig.toml is "
                f"{CONTRACT.fingerprint}: retrain (`mlrig train`) after changing the contract."
            )
        return joblib.load(ref.path_of(MODEL_FILE))

    def _probabilities(self, variant: str, frame: pd.DataFrame) -> Any:
        return self.models[variant].predict_proba(frame[CONTRACT.feature_names])[:, 1]

    def _route(self, ctx: bentoml.Context) -> tuple[str, str, str | None]:
        """The request id (the client's or a new one), the variant that answers (both echoed in the headers) and
        the request key as the log keeps it: keyed-hashed like silver's entity key, so late outcomes can join."""
        headers = ctx.request.headers
        request_id = headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        request_key = headers.get(REQUEST_KEY_HEADER)
        variant = self.router.choose(request_key)
        ctx.response.headers["x-model-variant"] = variant
        ctx.response.headers[REQUEST_ID_HEADER] = request_id
        logged_key = pseudonymize_value(request_key, self.pii_key) if request_key and self.pii_key else None
        return request_id, variant, logged_key

    def _score_rows(self, route: str, variant: str, records: list[dict]) -> list[tuple[float, dict[str, float]]]:
        """One model call per variant for `records`: each row's probability and its shadows' probabilities."""
        frame = pd.DataFrame(records)
        probabilities = self._probabilities(variant, frame)
        self.metrics.batch_size.labels(route, variant).observe(len(records))
        shadows = {name: self._probabilities(name, frame) for name in self.router.shadows}
        for name in shadows:
            self.metrics.shadow.labels(name).inc(len(records))
        return [(float(p), {name: float(s[i]) for name, s in shadows.items()}) for i, p in enumerate(probabilities)]

    def _answer(
        self, route: str, routed: tuple[str, str, str | None], records: list[dict], scored: list, started: float
    ) -> list[Score]:
        request_id, variant, request_key = routed
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._log(route, request_id, request_key, variant, False, records, [p for p, _ in scored], elapsed_ms)
        for shadow in self.router.shadows:
            scores = [s[shadow] for _, s in scored]
            self._log(route, request_id, request_key, shadow, True, records, scores, elapsed_ms)
        return [self._score(variant, p) for p, _ in scored]

    def _score(self, variant: str, probability: float) -> Score:
        return Score(
            probability=float(probability),
            prediction=self._label(variant, probability),
            model_version=self.versions[variant],
            variant=variant,
        )

    def _label(self, variant: str, probability: float) -> str:
        return CONTRACT.positive_class if decide(probability, self.thresholds[variant]) else NEGATIVE_CLASS

    def _log(
        self,
        route: str,
        request_id: str,
        request_key: str | None,
        variant: str,
        shadow: bool,
        records: list[dict],
        probabilities: Any,
        elapsed_ms: float,
    ) -> None:
        if self.log is None:
            return
        for row, (record, p) in enumerate(zip(records, probabilities, strict=True)):
            self.log.append(
                {
                    **loggable_inputs(CONTRACT, record),
                    "request_id": request_id if len(records) == 1 else f"{request_id}/{row}",
                    "request_key": request_key,
                    "endpoint": route,
                    "variant": variant,
                    "shadow": shadow,
                    "model_version": self.versions[variant],
                    "probability": float(p),
                    "prediction": self._label(variant, p),
                    "latency_ms": elapsed_ms,
                }
            )

    @bentoml.on_shutdown
    def flush_prediction_log(self) -> None:
        if self.log is not None:
            self.log.close()

    @bentoml.api(route="/score")
    async def score(self, features: Features, /, ctx: bentoml.Context) -> Score:  # type: ignore[valid-type]  # from the contract
        """Score one record: the body is the record's features. Optional headers: `X-Request-Key` (sticky A/B
        routing, e.g. a customer id), `X-Request-Id` (echoed, and logged with the prediction)."""
        started = time.perf_counter()
        routed = self._route(ctx)
        record = features.model_dump()
        scored = await self.batcher.score(routed[1], record)  # adaptive batching with concurrent requests
        return self._answer("/score", routed, [record], [scored], started)[0]

    @bentoml.api(route="/score_batch")
    def score_batch(
        self,
        records: Annotated[list[Features], Field(min_length=1, max_length=SERVING.max_batch_rows)],  # type: ignore[valid-type]
        ctx: bentoml.Context,
    ) -> list[Score]:
        """Score up to `serving.max_batch_rows` records in one call: {"records": [...]}; one variant answers all."""
        started = time.perf_counter()
        routed = self._route(ctx)
        rows = [r.model_dump() for r in records]
        return self._answer("/score_batch", routed, rows, self._score_rows("/score_batch", routed[1], rows), started)


# One model reference per variant, on the class, so the Bento records every model it ships.
for _name, _tag in MODEL_TAGS.items():
    setattr(_Scorer, f"model_{_name}", bentoml.models.BentoModel(_tag))

Scorer = bentoml.service(
    name=SERVING.service_name,
    traffic={"timeout": SERVING.timeout_s},
    http={"cors": {"enabled": True, "access_control_allow_origins": list(SERVING.cors_origins)}}
    if SERVING.cors_origins
    else {},
)(_Scorer)
Scorer.add_asgi_middleware(
    RequestGuard,
    paths=PREDICTION_ROUTES,
    settings=SERVING,
    in_flight={"/score": SCORE_IN_FLIGHT},
)
