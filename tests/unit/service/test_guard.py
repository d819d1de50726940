from __future__ import annotations

import asyncio
import json

import pytest

from service.guard import API_KEYS_ENV, API_KEYS_FILE_ENV, AUTH_ENV, AuthConfigError, RequestGuard, api_keys

KEY = "unit-test-key-0123456789abcdef"


async def _echo_app(scope, receive, send):
    message = await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-model-variant", b"a")]})
    await send({"type": "http.response.body", "body": message["body"]})


def call(guard: RequestGuard, path: str, body: bytes | list[bytes], headers: dict[str, str] | None = None):
    chunks = body if isinstance(body, list) else [body]
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[dict] = []
    raw_headers = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    if not isinstance(body, list):
        raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "path": path, "headers": raw_headers}

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def guard(config, monkeypatch):
    monkeypatch.setenv(API_KEYS_ENV, KEY)
    monkeypatch.delenv(AUTH_ENV, raising=False)
    return RequestGuard(_echo_app, ("/score",), config.serving)


AUTH = {"authorization": f"Bearer {KEY}"}


def test_valid_key_and_json_reach_the_app_with_the_body_intact(guard):
    assert call(guard, "/score", b'{"a": 1}', AUTH) == (200, b'{"a": 1}')


def test_scheme_is_case_insensitive(guard):
    assert call(guard, "/score", b"{}", {"authorization": f"bearer {KEY}"})[0] == 200


@pytest.mark.parametrize("header", ["", f"Token {KEY}", f"Bearer {KEY}x", "Bearer"])
def test_wrong_or_missing_key_gets_401(guard, header):
    status, body = call(guard, "/score", b"{}", {"authorization": header} if header else {})
    assert (status, json.loads(body)) == (401, {"error": "unauthorized"})


def test_unguarded_paths_pass_without_key(guard):
    assert call(guard, "/readyz", b"", {})[0] == 200


def test_declared_length_over_the_limit_gets_413(guard, config):
    body = b" " * (config.serving.max_body_bytes + 1)
    assert call(guard, "/score", body, AUTH)[0] == 413


def test_streamed_body_over_the_limit_gets_413(guard, config):
    chunk = b" " * 4096
    chunks = [chunk] * (config.serving.max_body_bytes // 4096 + 2)
    assert call(guard, "/score", chunks, AUTH)[0] == 413


def test_streamed_body_within_the_limit_is_joined(guard):
    assert call(guard, "/score", [b'{"a"', b": 1}"], AUTH) == (200, b'{"a": 1}')


@pytest.mark.parametrize("body", [b"{", b"NaN", b'{"x": -Infinity}', b"\xff"])
def test_not_json_gets_400(guard, body):
    assert call(guard, "/score", body, AUTH)[0] == 400


def test_disabled_auth_needs_no_key(config, monkeypatch):
    monkeypatch.setenv(AUTH_ENV, "disabled")
    monkeypatch.delenv(API_KEYS_ENV, raising=False)
    assert call(RequestGuard(_echo_app, ("/score",), config.serving), "/score", b"{}")[0] == 200


def test_required_auth_without_keys_refuses_to_start(config, monkeypatch):
    monkeypatch.delenv(API_KEYS_ENV, raising=False)
    monkeypatch.delenv(API_KEYS_FILE_ENV, raising=False)
    monkeypatch.delenv(AUTH_ENV, raising=False)
    with pytest.raises(AuthConfigError, match=API_KEYS_ENV):
        RequestGuard(_echo_app, ("/score",), config.serving)


def test_keys_come_from_env_and_file(config, monkeypatch, tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text("file-key-0123456789abcdef\n\n", encoding="utf-8")
    monkeypatch.setenv(API_KEYS_ENV, f"{KEY}, ")
    monkeypatch.setenv(API_KEYS_FILE_ENV, str(key_file))
    assert api_keys(config.serving) == (KEY.encode(), b"file-key-0123456789abcdef")


def test_short_keys_are_refused(config, monkeypatch):
    monkeypatch.setenv(API_KEYS_ENV, "short")
    with pytest.raises(AuthConfigError, match="shorter"):
        api_keys(config.serving)
