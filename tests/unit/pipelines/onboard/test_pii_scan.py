from __future__ import annotations

import pytest

from pipelines.onboard.pii_eval import evaluate, labelled_columns
from pipelines.onboard.pii_scan import is_card, is_iban, is_phone, scan_column


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_planted_pii_column_is_found(seed):
    for pii_type, result in evaluate(labelled_columns(seed=seed, rows=120)).items():
        assert result["recall"] == 1.0, pii_type


def test_look_alikes_are_not_pii_except_the_documented_name_shaped_titles():
    flagged = {c.name: scan_column(c.name, c.values) for c in labelled_columns(seed=0) if c.label is None}
    assert {name for name, finding in flagged.items() if finding} == {"product_title"}


def test_checksums_separate_real_numbers_from_look_alikes():
    assert is_card("4111 1111 1111 1111")
    assert not is_card("4111 1111 1111 1112")  # Luhn fails
    assert is_iban("DE89 3704 0044 0532 0130 00")
    assert not is_iban("DE89 3704 0044 0532 0130 01")  # mod-97 fails
    assert is_phone("+49 30 1234567")
    assert not is_phone("2026-11-01")
    assert not is_phone("100234567")  # bare digits without a trunk prefix: an order number


def test_a_join_key_is_pseudonymised_and_the_rest_dropped():
    emails = [f"user{i}@example.com" for i in range(50)]
    assert scan_column("login", emails, join_key=True).treatment == "pseudonymize"
    assert scan_column("email", emails).treatment == "drop"


def test_finding_says_which_rule_and_what_share_matched():
    values = [f"user{i}@example.com" for i in range(90)] + ["n/a"] * 10
    finding = scan_column("contact", values)
    assert finding.pii_type == "email"
    assert finding.reason == "email: e-mail address pattern (90% of sampled values)"


def test_a_few_stray_matches_do_not_make_a_structured_column_pii():
    assert scan_column("ref", ["user@example.com"] * 5 + ["ABC-123"] * 95) is None


@pytest.mark.parametrize(
    ("column", "flagged"),
    [("name", True), ("customer_name", True), ("surname", True), ("product_name", False), ("file_name", False)],
)
def test_column_names_that_say_person_name(column, flagged):
    assert (scan_column(column, ["x1", "y2"]) is not None) == flagged
