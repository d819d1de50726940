"""Requests that cannot be valid, against the real server: each refused with a 4xx at once, none of them
holding the worker, readiness never affected. (A body nested 10,000 levels deep used to hold a request for the
whole 10 s server timeout and then answer 500.)"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from pipelines.contract import example_request
from tests.integration.service.conftest import AUTH

pytestmark = pytest.mark.integration
FAST_MS = 50  # the bound for refusing a request that cannot be valid
ATTEMPTS = 3  # the best of three: a neighbour's burst on a shared machine spoils one, a handler that hangs all


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def _bodies(record: dict, limit: int) -> dict[str, tuple[str, bytes, int, str]]:
    """name → (route, body, expected status, what the error says)."""
    one = json.dumps(record)
    flood = b'{"records": [' + b",".join([b"0"] * (limit // 3)) + b"]}"
    return {
        "nested 10,000 deep, /score": ("/score", _deep(10_000), 400, "nested 10000 levels deep"),
        "nested 10,000 deep, /score_batch": ("/score_batch", _deep(10_000), 400, "nested 10000 levels deep"),
        "20 KB of objects in objects": ("/score_batch", b'{"a":' * 4000 + b"1" + b"}" * 4000, 400, "nested"),
        "a flood of tiny elements": ("/score_batch", flood, 400, "elements"),
        "too many records": ("/score_batch", json.dumps({"records": [record] * 1001}).encode(), 400, "at most"),
        "over the body limit": ("/score_batch", b" " * (limit + 1), 413, str(limit)),
        "unknown top-level field of a batch": (
            "/score_batch",
            json.dumps({"records": [record], "priority": "high"}).encode(),
            400,
            "priority: Extra inputs are not permitted",
        ),
        "unknown field inside a record": (
            "/score_batch",
            json.dumps({"records": [{**record, "favourite_colour": "blue"}]}).encode(),
            400,
            "records.0.favourite_colour",
        ),
        "unknown field of a record": ("/score", json.dumps({**record, "x": 1}).encode(), 400, "x: Extra inputs"),
        "a record that is a list": ("/score", f"[{one}]".encode(), 400, "body"),
        "malformed JSON": ("/score", one[:-3].encode(), 400, "not valid JSON"),
        "a string for a number": (
            "/score",
            json.dumps({**record, "tenure_months": "x"}).encode(),
            400,
            "tenure_months",
        ),
    }


@pytest.fixture(scope="module")
def hostile(ab_server, config):
    return _bodies(example_request(config.contract), ab_server.config.serving.max_body_bytes)


@pytest.mark.parametrize("name", list(_bodies({"a": 1}, 1000)))
def test_a_request_that_cannot_be_valid_gets_a_4xx_at_once(ab_server, hostile, name):
    path, body, status, says = hostile[name]
    timings = []
    with httpx.Client(base_url=ab_server.url, headers={**AUTH, "content-type": "application/json"}) as client:
        for _ in range(ATTEMPTS):
            started = time.perf_counter()
            response = client.post(path, content=body, timeout=30)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == status, response.text[:300]
            assert says in response.json()["error"]
            if timings[-1] < FAST_MS:
                break
    assert min(timings) < FAST_MS, f"{name}: {timings} ms"
    assert httpx.get(f"{ab_server.url}/readyz", timeout=5).status_code == 200


def test_a_volley_of_hostile_requests_leaves_the_service_ready_and_answering(ab_server, config, tmp_path):
    """Another process sends 64 deeply nested bodies on 8 connections while this one probes readiness the way
    the kubelet does (infra/components/endpoint.py: 2 s timeout): every probe answers 200 in time."""
    body = tmp_path / "deep.json"
    body.write_bytes(_deep(10_000))
    attacker = subprocess.Popen(
        [sys.executable, "-c", ATTACKER, f"{ab_server.url}/score_batch", str(body), AUTH["authorization"]],
        stdout=subprocess.PIPE,
        text=True,
    )
    probes = []
    while attacker.poll() is None:
        started = time.perf_counter()
        status = httpx.get(f"{ab_server.url}/readyz", timeout=PROBE_TIMEOUT_S).status_code
        probes.append((status, time.perf_counter() - started))
    assert json.loads(attacker.communicate(timeout=60)[0]) == [400]
    assert probes and all(status == 200 for status, _ in probes)
    assert max(elapsed for _, elapsed in probes) < PROBE_TIMEOUT_S
    answer = httpx.post(f"{ab_server.url}/score", json=example_request(config.contract), headers=AUTH, timeout=10)
    assert answer.status_code == 200 and 0 <= answer.json()["probability"] <= 1


PROBE_TIMEOUT_S = 2.0
ATTACKER = """
import json, sys, httpx
from concurrent.futures import ThreadPoolExecutor
url, path, key = sys.argv[1:]
body = open(path, "rb").read()
def attack(_):
    return httpx.post(url, content=body, headers={"authorization": key}, timeout=30).status_code
with ThreadPoolExecutor(8) as pool:
    print(json.dumps(sorted(set(pool.map(attack, range(64))))))
"""


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_on_a_prediction_route_get_405(ab_server, method):
    response = httpx.request(method, f"{ab_server.url}/score", headers=AUTH)
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_an_overlong_request_id_is_refused_naming_the_header(ab_server, config):
    response = httpx.post(
        f"{ab_server.url}/score",
        json=example_request(config.contract),
        headers={**AUTH, "x-request-id": "x" * 500},
    )
    assert response.status_code == 400 and "x-request-id" in response.json()["error"]
