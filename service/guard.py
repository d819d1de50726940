"""The service's front door, an ASGI middleware in front of the prediction endpoints.

In order: bearer API-key check (401, saying nothing about why), a request-body limit (413 before the body is
held in memory: BentoML has none, and a 100 MB body grew a worker to 1.5 GB), JSON that does not parse or
carries NaN/Infinity (400), then counts every answer in the variant-labelled metrics. Health, metrics and
docs paths pass straight through, so probes and scrapers need no key.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipelines.config import ServingSettings
from service.batching import InFlight
from service.metrics import NO_VARIANT, serving_metrics

API_KEYS_ENV = "MLRIG_API_KEYS"  # comma-separated
API_KEYS_FILE_ENV = "MLRIG_API_KEYS_FILE"  # one key a line; a mounted Kubernetes secret, for instance
AUTH_ENV = "MLRIG_SERVING_AUTH"  # overrides serving.auth: the local demo sets "disabled"
VARIANT_HEADER = b"x-model-variant"
MIN_KEY_CHARS = 16

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class AuthConfigError(RuntimeError):
    """Authentication is required but no usable key is configured."""


def api_keys(settings: ServingSettings) -> tuple[bytes, ...]:
    """The accepted keys, from $MLRIG_API_KEYS and the key file; refuses to start without any (fails closed)."""
    keys = [k.strip() for k in os.environ.get(API_KEYS_ENV, "").split(",")]
    key_file = os.environ.get(API_KEYS_FILE_ENV) or settings.api_keys_file
    if key_file:
        keys += [line.strip() for line in Path(key_file).read_text(encoding="utf-8").splitlines()]
    keys = [k for k in keys if k]
    if not keys:
        raise AuthConfigError(
            f"serving.auth is 'required' but no API key is set: put keys in ${API_KEYS_ENV} (comma-separated) or a "
            f"file named by ${API_KEYS_FILE_ENV} / serving.api_keys_file; for a local demo only, "
            f"{AUTH_ENV}=disabled turns authentication off."
        )
    if short := [k for k in keys if len(k) < MIN_KEY_CHARS]:
        raise AuthConfigError(f"{len(short)} API key(s) are shorter than {MIN_KEY_CHARS} characters; use longer ones.")
    return tuple(k.encode() for k in keys)


def auth_required(settings: ServingSettings) -> bool:
    return os.environ.get(AUTH_ENV, settings.auth) != "disabled"


def _reject_constant(value: str) -> None:
    raise ValueError(f"{value} is not a number this service accepts")


class RequestGuard:
    """Wraps the BentoML app; `paths` are the prediction routes it guards."""

    def __init__(
        self, app: Any, paths: tuple[str, ...], settings: ServingSettings, in_flight: dict[str, InFlight] | None = None
    ) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.in_flight = in_flight or {}  # routes whose batcher needs to know how many requests are under way
        self.max_body_bytes = settings.max_body_bytes
        # Read when the server builds its app, never at import: `bentoml build` imports the service without keys.
        self.keys = api_keys(settings) if auth_required(settings) else None  # None: authentication disabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer: dict[str, Any] = {"status": 500, "variant": NO_VARIANT}

        async def counting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                headers = dict(message.get("headers") or [])
                answer["variant"] = headers.get(VARIANT_HEADER, NO_VARIANT.encode()).decode()
            await send(message)

        try:
            await self._guarded(scope, receive, counting_send)
        finally:
            self._count(scope["path"], answer["variant"], answer["status"], time.perf_counter() - started)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        if self.keys is not None and not self._authorized(headers.get(b"authorization", b"")):
            await _error(send, 401, "unauthorized", [(b"www-authenticate", b"Bearer")])
            return
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_body_bytes:
            await _error(send, 413, f"request body larger than {self.max_body_bytes} bytes")
            return
        body = bytearray()
        more = True
        while more:  # a chunked body has no length: count what arrives
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await _error(send, 413, f"request body larger than {self.max_body_bytes} bytes")
                return
        if problem := _json_problem(bytes(body)):
            await _error(send, 400, problem)
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        counter = self.in_flight.get(scope["path"])
        if counter is None:
            await self.app(scope, replay, send)
            return
        counter.enter()
        try:
            await self.app(scope, replay, send)
        finally:
            counter.leave()

    def _authorized(self, header: bytes) -> bool:
        scheme, _, token = header.partition(b" ")
        matched = False
        for key in self.keys or ():  # every key compared, in constant time: no early exit to time
            matched |= hmac.compare_digest(token.strip(), key)
        return scheme.lower() == b"bearer" and matched

    @staticmethod
    def _count(path: str, variant: str, status: int, elapsed_s: float) -> None:
        metrics = serving_metrics()
        metrics.requests.labels(path, variant, str(status)).inc()
        metrics.latency.labels(path, variant).observe(elapsed_s)
        if status >= 400:
            metrics.errors.labels(path, variant, str(status)).inc()


def _json_problem(body: bytes) -> str | None:
    """Why the body is not JSON this service accepts (NaN and Infinity are not JSON), or None."""
    try:
        json.loads(body, parse_constant=_reject_constant)
    except ValueError as err:
        return f"the request body is not valid JSON: {err}"
    return None


async def _error(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
            + (headers or []),
        }
    )
    await send({"type": "http.response.body", "body": payload})
