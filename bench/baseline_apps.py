"""What the service is measured against: FastAPI on the booster, and a bare ASGI app (the HTTP ceiling).

`fastapi_app` is the strongest hand-written competitor for one row per request: the same contract-derived
request model (same validation), an `async` endpoint (no thread-pool hop), the model's own compiled scorer (the
encoding, then the LightGBM booster with `num_threads=1`: with LightGBM's default thread pool it served 233
req/s, not thousands), a `JSONResponse` returned directly, and nothing else: no key, no log, no metrics, no A/B.
`constant_app` answers a fixed body and does nothing else. Both are served by uvicorn (uvloop and httptools, as
`bentoml serve` uses them) with one worker, like the service; MLRIG_MODEL_DIR names the stored model's folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from pipelines.config import load_config
from pipelines.ml.scorer import load_scorer
from pipelines.tasks.binary.metrics import DECISION_THRESHOLD
from service.schema import request_model

CONFIG = load_config()
Features = request_model(CONFIG.contract)
NAMES = tuple(CONFIG.contract.feature_names)
POSITIVE = CONFIG.contract.positive_class
NEGATIVE = next(v for v in CONFIG.contract.columns[CONFIG.contract.target].allowed or () if v != POSITIVE)
fastapi_app = FastAPI()
_scorer = load_scorer(Path(os.environ["MLRIG_MODEL_DIR"])) if "MLRIG_MODEL_DIR" in os.environ else None
_VERSION = os.environ.get("MLRIG_MODEL_VERSION", "")


@fastapi_app.post("/score")
async def score(features: Features) -> JSONResponse:  # type: ignore[valid-type]  # built from the contract
    row = features.__dict__
    probability = _scorer.predict({name: [row[name]] for name in NAMES}, 1)[0]
    return JSONResponse(
        {
            "probability": probability,
            "prediction": POSITIVE if probability >= DECISION_THRESHOLD else NEGATIVE,
            "model_version": _VERSION,
            "variant": "champion",
        }
    )


_CONSTANT = b'{"probability":0.5}'


async def constant_app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(_CONSTANT)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": _CONSTANT})
