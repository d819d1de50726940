"""Admission: the key check and the body reader, on real ASGI receive callables."""

from __future__ import annotations

import asyncio

import pytest

from service.guard import API_KEYS_ENV, API_KEYS_FILE_ENV, AUTH_ENV, AuthConfigError, Guard, Refusal, api_keys

KEY = "unit-test-key-0123456789abcdef"


@pytest.fixture
def guard(config, monkeypatch) -> Guard:
    monkeypatch.setenv(API_KEYS_ENV, KEY)
    monkeypatch.delenv(AUTH_ENV, raising=False)
    return Guard(config.serving)


def read(guard: Guard, chunks: list[bytes], declared: bytes | None = None, pause_s: float = 0.0) -> bytes:
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        if pause_s and len(messages) < len(chunks):
            await asyncio.sleep(pause_s)
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return asyncio.run(guard.read_body(receive, declared))


def test_a_configured_key_is_accepted_with_any_case_of_scheme(guard):
    guard.check_key(f"Bearer {KEY}".encode())
    guard.check_key(f"bearer {KEY}".encode())


@pytest.mark.parametrize("header", ["", f"Token {KEY}", f"Bearer {KEY}x", "Bearer", KEY])
def test_wrong_or_missing_key_is_refused_with_401(guard, header):
    with pytest.raises(Refusal) as refused:
        guard.check_key(header.encode())
    assert (refused.value.status, refused.value.message) == (401, "unauthorized")
    assert (b"www-authenticate", b"Bearer") in refused.value.headers


def test_declared_length_over_the_limit_is_refused_before_reading(guard, config):
    async def never():
        raise AssertionError("the body must not be read")

    with pytest.raises(Refusal) as refused:
        asyncio.run(guard.read_body(never, str(config.serving.max_body_bytes + 1).encode()))
    assert refused.value.status == 413


def test_streamed_body_over_the_limit_gets_413(guard, config):
    chunks = [b" " * 4096] * (config.serving.max_body_bytes // 4096 + 2)
    with pytest.raises(Refusal) as refused:
        read(guard, chunks)
    assert refused.value.status == 413


def test_streamed_body_within_the_limit_is_joined(guard):
    assert read(guard, [b'{"a"', b": 1}"]) == b'{"a": 1}'


def test_a_body_that_trickles_in_too_slowly_gets_408(guard):
    guard.body_timeout_s = 0.05
    with pytest.raises(Refusal) as refused:
        read(guard, [b"{", b"}"], pause_s=0.5)
    assert refused.value.status == 408


def test_disabled_auth_needs_no_key(config, monkeypatch):
    monkeypatch.setenv(AUTH_ENV, "disabled")
    monkeypatch.delenv(API_KEYS_ENV, raising=False)
    Guard(config.serving).check_key(b"")


def test_required_auth_without_keys_refuses_to_start(config, monkeypatch):
    monkeypatch.delenv(API_KEYS_ENV, raising=False)
    monkeypatch.delenv(API_KEYS_FILE_ENV, raising=False)
    monkeypatch.delenv(AUTH_ENV, raising=False)
    with pytest.raises(AuthConfigError, match=API_KEYS_ENV):
        Guard(config.serving)


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
