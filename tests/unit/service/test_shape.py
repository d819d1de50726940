"""The shape scan: bodies that cannot be valid are refused by their structure, valid ones always pass."""

from __future__ import annotations

import json

import pytest

from pipelines.contract import example_request
from service.shape import Shape, shape_problem, structure

FEATURES = 10
RECORD, BATCH = Shape.record(FEATURES), Shape.batch(FEATURES, max_rows=1000)


def test_valid_bodies_pass(contract):
    record = example_request(contract)
    assert shape_problem(json.dumps(record).encode(), Shape.record(len(contract.features))) is None
    batch = json.dumps({"records": [record] * 1000}).encode()
    assert shape_problem(batch, Shape.batch(len(contract.features), 1000)) is None


@pytest.mark.parametrize(
    ("body", "depth"), [(b"[" * 10_000 + b"]" * 10_000, 10_000), (b'{"a":' * 5000 + b"1" + b"}" * 5000, 5000)]
)
def test_deep_nesting_is_refused_naming_the_depth(body, depth):
    assert f"nested {depth} levels deep" in shape_problem(body, BATCH)
    assert "at most 1" in shape_problem(body, RECORD)


def test_a_batch_with_too_many_records_is_refused():
    body = json.dumps({"records": [{}] * 1001}).encode()
    assert "objects and arrays" in shape_problem(body, BATCH)


def test_a_flood_of_tiny_elements_is_refused():
    body = b'{"records": [' + b",".join([b"1"] * 100_000) + b"]}"
    assert "elements" in shape_problem(body, BATCH)


def test_a_few_unknown_fields_pass_to_the_request_model_which_names_them():
    assert shape_problem(json.dumps({f"f{i}": 1 for i in range(FEATURES + 3)}).encode(), RECORD) is None


def test_a_flood_of_fields_in_a_record_is_refused():
    body = json.dumps({f"f{i}": 1 for i in range(10 * FEATURES)}).encode()
    assert "fields" in shape_problem(body, RECORD)


def test_brackets_and_quotes_inside_strings_do_not_count():
    tricky = json.dumps({"a": 'x[[[{{{"\\', "b": "]]]}}}", "c": "\\\\"}).encode()
    assert structure(tricky).depth == 1
    assert structure(tricky).containers == 1
    assert structure(tricky).keys == 3
    assert shape_problem(tricky, RECORD) is None


def test_escaped_backslash_before_a_quote_closes_the_string():
    body = b'{"a": "x\\\\", "b": [[[1]]]}'  # "x\\" ends at the quote: the brackets after it count
    assert structure(body).depth == 4
