from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from pipelines.contract import example_request
from service.schema import request_model


@pytest.fixture(scope="module")
def features_model(contract):
    return request_model(contract)


def test_fields_are_exactly_the_contract_features(features_model, contract):
    assert list(features_model.model_fields) == contract.feature_names


def test_example_is_valid(features_model, contract):
    features_model.model_validate(example_request(contract))


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("tenure_months", "12", "int_type"),
        ("tenure_months", 601, "less_than_equal"),
        ("monthly_charges", -1.0, "greater_than_equal"),
        ("monthly_charges", math.nan, "finite_number"),
        ("plan", "platinum", "literal_error"),
        ("country", None, "literal_error"),
    ],
)
def test_bad_values_name_the_field(features_model, contract, field, value, error):
    body = {**example_request(contract), field: value}
    with pytest.raises(ValidationError) as info:
        features_model.model_validate(body)
    assert [(e["loc"][0], e["type"]) for e in info.value.errors()] == [(field, error)]


def test_missing_and_unknown_fields_are_refused(features_model, contract):
    body = example_request(contract)
    body.pop("plan")
    body["favourite_colour"] = "blue"
    with pytest.raises(ValidationError) as info:
        features_model.model_validate(body)
    assert {(e["loc"][0], e["type"]) for e in info.value.errors()} == {
        ("plan", "missing"),
        ("favourite_colour", "extra_forbidden"),
    }


def test_nullable_features_accept_null(features_model, contract):
    nullable = [c.name for c in contract.features if c.nullable]
    assert nullable
    features_model.model_validate({**example_request(contract), **dict.fromkeys(nullable)})
