"""The service as production runs it, over HTTP: keys, bad input, A/B routing, shadow, metrics, prediction log.

Tests run in file order against one server; the last one stops it and checks the shutdown flush.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import hypothesis
import polars as pl
import pytest
import schemathesis
from schemathesis.generation import GenerationMode

from pipelines.config import VariantSettings
from pipelines.contract import example_request
from pipelines.pii import pseudonymize_value
from service.prediction_log import predictions_table
from service.routing import Router
from tests.conftest import TEST_PII_KEY
from tests.integration.service.conftest import AUTH, FLUSH_ROWS, WEIGHTS

pytestmark = pytest.mark.integration
HTTP_REQUESTS = 400  # enough for a ±0.1 check on a 0.3 share; the exact split is the router's unit test
SENT_IDS: set[str] = set()  # request ids of every row scored here, to find each one in the log at the end


def post(server, path: str, body, headers: dict | None = None, client=httpx) -> httpx.Response:
    headers = {**AUTH, "x-request-id": uuid.uuid4().hex, **(headers or {})}
    request_id = headers["x-request-id"]
    response = client.post(f"{server.url}{path}", json=body, headers=headers, timeout=30)
    if response.status_code == 200:
        if path == "/score_batch":
            SENT_IDS.update(f"{request_id}/{row}" for row in range(len(body["records"])))
        else:
            SENT_IDS.add(request_id)
    return response


@pytest.fixture(scope="module")
def record(config) -> dict:
    return example_request(config.contract)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-key-0123456789abcdef", "Basic dGVzdDp0ZXN0", "Bearer", "test-api-key-0123456789abcdef"],
)
def test_prediction_without_a_valid_key_gets_401_saying_nothing_more(ab_server, record, header):
    headers = {"authorization": header} if header else {}
    response = httpx.post(f"{ab_server.url}/score", json=record, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_every_configured_key_is_accepted(ab_server, record):
    other = {"authorization": "Bearer some-other-key-0123456789"}
    assert httpx.post(f"{ab_server.url}/score", json=record, headers=other).status_code == 200


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/metrics", "/docs.json"])
def test_probes_metrics_and_docs_need_no_key(ab_server, path):
    assert httpx.get(f"{ab_server.url}{path}").status_code == 200


def test_no_cors_headers_unless_configured(ab_server, record):
    response = httpx.post(f"{ab_server.url}/score", json=record, headers={**AUTH, "origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_body_over_the_limit_gets_413_before_it_is_read(ab_server, record):
    limit = ab_server.config.serving.max_body_bytes
    body = json.dumps({"records": [record] * (limit // len(json.dumps(record)) + 10)})
    response = httpx.post(f"{ab_server.url}/score_batch", content=body, headers=AUTH)
    assert response.status_code == 413
    assert str(limit) in response.json()["error"]


def test_chunked_body_over_the_limit_gets_413(ab_server, record):
    limit = ab_server.config.serving.max_body_bytes

    def chunks():
        yield b'{"records": ['
        for _ in range(limit // 1000 + 2):
            yield b" " * 1000

    response = httpx.post(f"{ab_server.url}/score_batch", content=chunks(), headers=AUTH)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"country": ', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"monthly_charges": NaN}', "monthly_charges: Input should be a finite number"),
        (b'{"monthly_charges": Infinity}', "monthly_charges: Input should be a finite number"),
    ],
)
def test_body_that_is_not_json_gets_400(ab_server, body, says):
    response = httpx.post(f"{ab_server.url}/score", content=body, headers={**AUTH, "content-type": "application/json"})
    assert response.status_code == 400
    assert says in response.json()["error"]


def test_number_beyond_float_range_is_refused_naming_the_field(ab_server, record):
    body = json.dumps(record).replace(f'"monthly_charges": {record["monthly_charges"]}', '"monthly_charges": 1e999')
    assert "1e999" in body
    response = httpx.post(f"{ab_server.url}/score", content=body, headers={**AUTH, "content-type": "application/json"})
    assert response.status_code == 400
    assert "monthly_charges" in response.text


def test_answer_names_variant_and_model_version(ab_server, record):
    response = post(ab_server, "/score", record, {"x-request-key": "customer-1", "x-request-id": "req-123"})
    answer = response.json()
    assert answer["variant"] in WEIGHTS
    assert answer["model_version"] == ab_server.tags[answer["variant"]]
    assert response.headers["x-request-id"] == "req-123"


def test_routing_is_sticky_per_request_key(ab_server, record):
    for key in ("customer-7", "customer-8", "customer-9"):
        variants = {post(ab_server, "/score", record, {"x-request-key": key}).json()["variant"] for _ in range(10)}
        assert len(variants) == 1


def test_traffic_splits_by_weight_and_matches_the_router(ab_server, record):
    router = Router.from_variants({name: VariantSettings(weight=w) for name, w in WEIGHTS.items()})
    seen = Counter()
    with httpx.Client() as client:
        for i in range(HTTP_REQUESTS):
            key = f"cust-{i}"
            variant = post(ab_server, "/score", record, {"x-request-key": key}, client).json()["variant"]
            assert variant == router.choose(key)
            seen[variant] += 1
    assert seen["b"] / HTTP_REQUESTS == pytest.approx(WEIGHTS["b"], abs=0.1)


def test_requests_without_a_key_still_split(ab_server, record):
    seen = Counter(post(ab_server, "/score", record).json()["variant"] for _ in range(60))
    assert set(seen) == set(WEIGHTS)


def test_concurrent_requests_each_get_their_own_answer(ab_server, config):
    """Concurrent single-row requests are batched on the model call: no answer may land on the wrong request."""
    import bentoml
    import joblib
    import pandas as pd

    from pipelines.data.features import features_table_name
    from pipelines.lake import Lake
    from pipelines.ml.register import MODEL_FILE

    gold = Lake(config.lake_url).table("gold", features_table_name(config.contract))
    records = gold.scan().select(config.contract.feature_names).head(48).collect().to_dicts()
    model = joblib.load(bentoml.models.get(ab_server.tags["a"]).path_of(MODEL_FILE))  # b is the same artifact
    expected = model.predict_proba(pd.DataFrame(records))[:, 1]
    with httpx.Client() as client, ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda r: post(ab_server, "/score", r, client=client).json(), records))
    assert [a["probability"] for a in answers] == pytest.approx(list(expected), rel=1e-9)


def test_metrics_carry_variant_labels(ab_server, record):
    assert post(ab_server, "/score_batch", {"records": [record, record]}).status_code == 200
    text = httpx.get(f"{ab_server.url}/metrics").text
    for variant in WEIGHTS:
        assert f'mlrig_requests_total{{endpoint="/score",status="200",variant="{variant}"}}' in text
        assert f'variant="{variant}"' in text.split("mlrig_request_latency_seconds_count", 1)[1]
    assert 'mlrig_errors_total{endpoint="/score",status="401",variant="none"}' in text
    assert 'mlrig_shadow_predictions_total{variant="candidate"}' in text
    assert 'mlrig_batch_rows_bucket{endpoint="/score_batch",le="2.0"' in text


def test_fuzzed_requests_from_the_openapi_document_never_get_5xx(ab_server):
    schema = schemathesis.openapi.from_url(f"{ab_server.url}/docs.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    scored = [op for op in operations if op.path in ("/score", "/score_batch")]
    assert len(scored) == 2

    for operation in scored:  # valid bodies, then bodies that break the schema on purpose
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_without_server_errors(ab_server.url, operation, mode)


def fuzz_without_server_errors(url: str, operation, mode: GenerationMode) -> None:
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=25, deadline=None, database=None, suppress_health_check=list(hypothesis.HealthCheck)
    )
    def no_server_error(case):
        response = case.call(base_url=url, headers=AUTH, timeout=30)
        assert response.status_code < 500, f"{operation.path} ({mode}): {response.status_code} {response.text[:300]}"

    no_server_error()


def test_batch_rows_are_logged_without_blocking(ab_server, record):
    table = predictions_table(ab_server.config)
    before = table.read().height if table.exists() else 0
    started = time.perf_counter()
    rows = FLUSH_ROWS + 10
    assert post(ab_server, "/score_batch", {"records": [record] * rows}).status_code == 200
    assert time.perf_counter() - started < 5
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (table.read().height if table.exists() else 0) < before + FLUSH_ROWS:
        time.sleep(0.25)
    assert table.read().height >= before + FLUSH_ROWS


def test_shutdown_flushes_every_prediction_without_pii(ab_server, config):
    ab_server.stop()
    # the session's lake is shared: other modules' servers (one `champion` variant, no shadow) log there too
    log = predictions_table(ab_server.config).read().filter(pl.col("variant").is_in([*WEIGHTS, "candidate"]))
    routed = log.filter(~pl.col("shadow"))
    shadow = log.filter(pl.col("shadow"))
    assert set(routed["request_id"]) >= SENT_IDS  # the fuzz cases were logged too, under ids of their own
    assert shadow.height == routed.height  # the shadow scored every routed row
    assert set(shadow["variant"]) == {"candidate"}
    assert set(routed["variant"]) == set(WEIGHTS)
    assert routed["request_id"].n_unique() == routed.height
    assert not {c.name for c in config.contract.pii_columns} & set(log.columns)
    assert set(config.contract.feature_names) <= set(log.columns)
    # request keys (customer ids) are logged keyed-hashed, as silver holds the entity key, never in clear
    answered = routed.filter(pl.col("request_id") == "req-123")["request_key"].to_list()
    assert answered == [pseudonymize_value("customer-1", TEST_PII_KEY)]
    assert not any(str(k).startswith("customer-") for k in log["request_key"].drop_nulls())
    assert log["latency_ms"].min() >= 0
