"""What the service is measured against: a hand-written FastAPI app and a bare ASGI app (the HTTP ceiling).

`fastapi_app` is what a user writes by hand: the same contract-derived request model, the same model file,
one row per request, no auth, no logging, no metrics. `constant_app` answers a fixed body and does nothing
else. Both are served by uvicorn with one worker, like the service; MLRIG_MODEL_PATH names the model file.
"""

from __future__ import annotations

import os

import joblib
import pandas as pd
from fastapi import FastAPI

from pipelines.config import load_config
from service.schema import request_model

CONFIG = load_config()
Features = request_model(CONFIG.contract)
fastapi_app = FastAPI()
_model = joblib.load(os.environ["MLRIG_MODEL_PATH"]) if "MLRIG_MODEL_PATH" in os.environ else None


@fastapi_app.post("/score")
def score(features: Features) -> dict:  # type: ignore[valid-type]  # built from the contract
    frame = pd.DataFrame([features.model_dump()])[CONFIG.contract.feature_names]
    return {"probability": float(_model.predict_proba(frame)[0, 1])}


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
