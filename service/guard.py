"""Admission to the prediction routes: the API key, then the body within its size limit and in time.

Everything here runs before a byte of the body is parsed: a request without a valid bearer key gets 401
(nothing about why), a declared or streamed body over `serving.max_body_bytes` gets 413 before it is held in
memory (BentoML has no limit: a 100 MB body grew a worker to 1.5 GB), and a body that trickles in slower than
`serving.timeout_s` gets 408. The front door (service/front_door.py) calls these in that order.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pipelines.config import ServingSettings

API_KEYS_ENV = "MLRIG_API_KEYS"  # comma-separated
API_KEYS_FILE_ENV = "MLRIG_API_KEYS_FILE"  # one key a line; a mounted Kubernetes secret, for instance
AUTH_ENV = "MLRIG_SERVING_AUTH"  # overrides serving.auth: the local demo sets "disabled"
MIN_KEY_CHARS = 16

Receive = Callable[[], Awaitable[dict[str, Any]]]


class AuthConfigError(RuntimeError):
    """Authentication is required but no usable key is configured."""


class Refusal(Exception):  # noqa: N818  # not an error of the service: the answer to a request it refuses
    """A request refused with a 4xx; `message` is what the client reads."""

    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


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


UNAUTHORIZED = Refusal(401, "unauthorized", [(b"www-authenticate", b"Bearer")])


class Guard:
    """The key check and the body reader of one server process; built when the server builds its app."""

    def __init__(self, settings: ServingSettings) -> None:
        self.max_body_bytes = settings.max_body_bytes
        self.body_timeout_s = float(settings.timeout_s)
        # Read when the server starts, never at import: `bentoml build` imports the service without keys.
        self.keys = api_keys(settings) if auth_required(settings) else None  # None: authentication disabled

    def check_key(self, authorization: bytes) -> None:
        """Every key compared, in constant time: no early exit to time."""
        if self.keys is None:
            return
        scheme, _, token = authorization.partition(b" ")
        token = token.strip()
        matched = False
        for key in self.keys:
            matched |= hmac.compare_digest(token, key)
        if not (matched and scheme.lower() == b"bearer"):
            raise UNAUTHORIZED

    async def read_body(self, receive: Receive, content_length: bytes | None) -> bytes:
        """The whole body, or a Refusal: 413 over the limit (declared or counted), 408 when it trickles in too
        slowly. A chunked body has no declared length: it is counted as it arrives."""
        too_large = Refusal(413, f"request body larger than {self.max_body_bytes} bytes")
        if content_length is not None and (not content_length.isdigit() or int(content_length) > self.max_body_bytes):
            raise too_large
        message = await receive()  # the common case: the whole body in one message, no timer needed
        body = message.get("body", b"")
        if not message.get("more_body", False):
            return body
        parts = [body]
        size = len(body)
        try:
            async with asyncio.timeout(self.body_timeout_s):
                while message.get("more_body", False):
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise Refusal(400, "the client went away before the body was complete")
                    parts.append(message.get("body", b""))
                    size += len(parts[-1])
                    if size > self.max_body_bytes:
                        raise too_large
        except TimeoutError:
            raise Refusal(408, f"the request body did not arrive within {self.body_timeout_s:g} s") from None
        return b"".join(parts)
