"""The front door: the ASGI app in front of BentoML's, answering the prediction routes itself.

BentoML's own per-request path (its metrics, tracing and access-log middlewares, a timeout task, the API
wrapper) costs more than scoring a row does (docs/serving.md, profile), so `/score` and `/score_batch` are
answered here and every other path (probes, /metrics, docs, UI) goes to BentoML's app untouched. In order:
key (401), body within its limit and in time (413/408), a shape a valid body can have (400, before parsing),
the contract's request model (400 naming the field), then scoring (service/scoring.py). Every request gets an
answer, never an exception: an unanswered exception is what held a request for the whole server timeout.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from pipelines.config import ServingSettings
from service.guard import Guard, Refusal
from service.metrics import NO_VARIANT, serving_metrics
from service.scoring import Scored, Scoring
from service.shape import Shape, shape_problem

logger = logging.getLogger(__name__)
REQUEST_KEY_HEADER = b"x-request-key"  # e.g. a customer id: the same key always gets the same variant
REQUEST_ID_HEADER = b"x-request-id"
MAX_HEADER_VALUE_CHARS = 200  # request ids and keys are logged: a valid one is far shorter
MAX_ERRORS_SHOWN = 10

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    """One prediction route: what its body must look like, and how it becomes columns of rows."""

    path: str
    model: type[BaseModel]
    shape: Shape
    many: bool  # a list of answers (/score_batch) or one (/score)

    def columns(self, request: BaseModel, features: tuple[str, ...]) -> tuple[dict[str, list[Any]], int]:
        records = [r.__dict__ for r in request.records] if self.many else [request.__dict__]  # type: ignore[attr-defined]
        return {name: [r[name] for r in records] for name in features}, len(records)


class ScoringSlot:
    """Where the service instance puts its Scoring once its models are loaded (BentoML builds the app first)."""

    scoring: Scoring | None = None


class FrontDoor:
    """ASGI app: the prediction `routes` answered here, every other request passed to `app` (BentoML's)."""

    def __init__(
        self,
        app: Any,
        routes: tuple[Route, ...],
        features: tuple[str, ...],
        settings: ServingSettings,
        slot: ScoringSlot,
    ) -> None:
        self.app = app
        self.routes = {route.path: route for route in routes}
        self.features = features
        self.slot = slot
        self.guard = Guard(settings)  # fails closed: no keys, no server
        self.cors_origins = frozenset(o.encode() for o in settings.cors_origins)
        self.metrics = serving_metrics()
        # A fresh request id: random per process, then counted (uuid4 per request reads the kernel's entropy
        # pool each time, a measurable share of a request here).
        self.id_prefix = uuid.uuid4().hex[:16]
        self.ids = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] == "OPTIONS":  # CORS preflight: BentoML's CORS middleware answers
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        request_id = headers.get(REQUEST_ID_HEADER, b"").decode("latin-1") or f"{self.id_prefix}-{next(self.ids)}"
        variant = NO_VARIANT
        try:
            if scope["method"] != "POST":
                raise Refusal(405, f"{route.path} takes POST", [(b"allow", b"POST")])
            scored = await self._score(route, scope, headers, receive, request_id, started)
            variant = scored.variant.name
            status, body, extra = 200, scored.json(route.many), [(b"x-model-variant", variant.encode())]
        except Refusal as refusal:
            status, body, extra = refusal.status, _error_json(refusal.message), refusal.headers
        except Exception:  # a bug, not the client's fault: answered at once, the traceback goes to the log only
            logger.exception("%s: request %s failed", route.path, request_id)
            status, body, extra = 500, _error_json("internal error; the service log has the details"), []
        extra.append((b"x-request-id", request_id.encode("latin-1")))
        if self.cors_origins and (origin := headers.get(b"origin")) in self.cors_origins:
            extra += [(b"access-control-allow-origin", origin), (b"vary", b"origin")]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        self.metrics.count(route.path, variant, status, time.perf_counter() - started)

    async def _score(
        self, route: Route, scope: Scope, headers: dict[bytes, bytes], receive: Receive, request_id: str, started: float
    ) -> Scored:
        self.guard.check_key(headers.get(b"authorization", b""))
        request_key = headers.get(REQUEST_KEY_HEADER)
        for name, value in ((REQUEST_ID_HEADER, request_id), (REQUEST_KEY_HEADER, request_key)):
            if value is not None and len(value) > MAX_HEADER_VALUE_CHARS:
                raise Refusal(400, f"header {name.decode()} is longer than {MAX_HEADER_VALUE_CHARS} characters")
        body = await self.guard.read_body(receive, headers.get(b"content-length"))
        if problem := shape_problem(body, route.shape):
            raise Refusal(400, problem)
        try:
            request = route.model.model_validate_json(body)
        except ValidationError as err:
            raise Refusal(400, _validation_message(err)) from None
        scoring = self.slot.scoring
        if scoring is None:
            raise Refusal(503, "the service is starting: its models are not loaded yet", [(b"retry-after", b"1")])
        columns, rows = route.columns(request, self.features)
        key = request_key.decode("latin-1") if request_key is not None else None
        return scoring.score(route.path, columns, rows, request_id, key, started)


def _validation_message(err: ValidationError) -> str:
    """The contract's verdict, naming each field (`records.3.plan: Input should be ...`)."""
    errors = err.errors(include_url=False, include_context=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        return f"the request body is not valid JSON: {errors[0]['msg']}"
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors[:MAX_ERRORS_SHOWN]]
    more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
    return "invalid request: " + "; ".join(parts) + more


def _error_json(message: str) -> bytes:
    return json.dumps({"error": message}).encode()
