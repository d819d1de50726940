"""`mlrig smoke` against the real built Bento served by `bentoml serve` on a free port."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
from tests.conftest import explain
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


def test_smoke_passes_against_the_real_service(scorer_url: str) -> None:
    # Coverage traces the server process under test, several times slower than in production: this test
    # checks the pass path with a loose budget; the budget itself is the next test's subject.
    result = CliRunner().invoke(app, ["smoke", "--url", scorer_url, "--requests", "20", "--p99-budget-ms", "5000"])
    assert result.exit_code == 0, explain(result)
    assert result.output.startswith(f"smoke passed: {scorer_url} — 20/20 scored")


def test_smoke_fails_when_p99_is_over_budget(scorer_url: str) -> None:
    result = CliRunner().invoke(app, ["smoke", "--url", scorer_url, "--requests", "5", "--p99-budget-ms", "0.001"])
    assert result.exit_code == 1
    assert "over the budget of 0 ms" in result.output


def test_smoke_fails_when_nothing_answers() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["smoke", "--url", url])
    assert result.exit_code == 1
    assert f"no answer from {url}/readyz" in result.output


class _CarelessScorer(BaseHTTPRequestHandler):
    """Ready, but accepts anything and answers nonsense: what a broken image might do."""

    def do_GET(self) -> None:
        self._answer(200, {})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self._answer(200, {"probability": 1.7, "prediction": "yes"})

    def _answer(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def careless_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _CarelessScorer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_smoke_fails_a_service_that_accepts_bad_input_and_answers_nonsense(careless_url: str) -> None:
    result = CliRunner().invoke(app, ["smoke", "--url", careless_url, "--requests", "3"])
    assert result.exit_code == 1
    assert "a request outside the contract got 200, not 400" in result.output
    assert "request 1: probability 1.7 is not in [0, 1]" in result.output


KEY = "smoke-key-0123456789abcdef"


@pytest.fixture(scope="module")
def keyed_scorer_url(built_workspace, config) -> Iterator[str]:
    """The real service with `auth = "required"`, as every stack runs it (issue 16, item 2)."""
    from service.guard import API_KEYS_ENV
    from service.runner import serving

    port = free_port()
    with serving(config, port, built_workspace / "logs" / f"serve-keyed-{port}.log", env={API_KEYS_ENV: KEY}) as url:
        yield url


def test_smoke_sends_the_api_key_a_keyed_service_wants(keyed_scorer_url: str, monkeypatch) -> None:
    from service.runner import CLIENT_KEY_ENV

    monkeypatch.setenv(CLIENT_KEY_ENV, KEY)
    args = ["smoke", "--url", keyed_scorer_url, "--requests", "5", "--p99-budget-ms", "5000"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, explain(result)


def test_smoke_reads_the_key_from_the_variable_mlrig_predict_reads() -> None:
    from pipelines.release.smoke import CLIENT_KEY_ENV as SMOKE_KEY_ENV
    from service.runner import CLIENT_KEY_ENV

    assert SMOKE_KEY_ENV == CLIENT_KEY_ENV


def test_smoke_without_a_key_fails_and_says_which_variable_to_set(keyed_scorer_url: str, monkeypatch) -> None:
    from service.runner import CLIENT_KEY_ENV

    monkeypatch.delenv(CLIENT_KEY_ENV, raising=False)
    result = CliRunner().invoke(app, ["smoke", "--url", keyed_scorer_url, "--requests", "2"])
    assert result.exit_code == 1
    assert f"answered 401: set ${CLIENT_KEY_ENV}" in result.output
    assert KEY not in result.output
