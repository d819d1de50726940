from __future__ import annotations

import pytest

from pipelines.onboard.pii_scan import (
    is_address,
    is_birth_date,
    is_card,
    is_iban,
    is_national_id,
    is_phone,
    looks_like_person_name,
    scan_column,
)
from tests.byod.pii_eval import evaluate, labelled_columns


@pytest.fixture(scope="module")
def evaluation():
    """The development set only: the held-out sets are `make pii-eval`'s, each measured once (docs/onboarding.md)."""
    return evaluate(labelled_columns(("development",), seed=0))


def test_independent_generators_and_real_look_alikes_meet_the_targets(evaluation):
    counts, mistakes = evaluation
    assert counts["development"].precision >= 0.95, mistakes
    assert counts["development"].recall >= 0.99, mistakes


@pytest.mark.parametrize(
    "address",
    [
        "ул. Ленина, д. 5, кв. 3, Москва, 101000",
        "Οδός Ερμού 25, 105 63 Αθήνα",
        "Atatürk Cad. No:12 D:3, 34000 Kadıköy/İstanbul",
        "Jl. Merdeka No. 10, Jakarta 10110",
        "Kossuth u. 5., H-1055 Budapest",
        "Gedimino pr. 9, LT-01103 Vilnius",
        "רחוב הרצל 12, תל אביב",
        "شارع التحرير 15، القاهرة",
        "123 ถนนสุขุมวิท ซอย 11, กรุงเทพฯ 10110",
        "221B Baker Street / London / NW1 6XE",
    ],
)
def test_addresses_in_many_scripts_and_separators(address):
    assert is_address(address)


@pytest.mark.parametrize(
    ("value", "hinted"),
    [
        ("SMITH, John", False),
        ("DUPONT Marie", False),
        ("Öğr. Ahmet Yılmaz", False),  # an abbreviated title
        ("Иванов Иван Иванович", False),
        ("Γιώργος Παπαδόπουλος", False),
        ("JOHN SMITH", True),  # all capitals: only where the column's name says names
        ("محمد أحمد", True),  # a script without case: likewise
        ("สมชาย ใจดี", True),
    ],
)
def test_person_names_as_exports_write_them(value, hinted):
    assert looks_like_person_name(value, hinted=hinted)
    if hinted:
        assert not looks_like_person_name(value)


@pytest.mark.parametrize("value", ["12 Mar 1985", "March 12, 1985", "12 de marzo de 1985", "12. März 1985"])
def test_birth_dates_with_month_names(value):
    assert is_birth_date(value)
    assert not is_birth_date("19850312") and is_birth_date("19850312", hinted=True)


@pytest.mark.parametrize(
    "phone",
    [
        "251.737.5471",
        "339-619-9287x9884",
        "001-415-541-2207x7715",
        "(426)607-4059x90719",
        "+49(0)1777 63170",
        "+4915112345678",
        "tel:+1-202-555-0143",
        "+7 495 123-45-67",
    ],
)
def test_phones_as_exports_write_them(phone):
    assert is_phone(phone)


@pytest.mark.parametrize(
    "address",
    [
        "545 Curry Terrace, Port Amandaville, SD 53349",
        "Friedlinde-Riehl-Gasse 4-7, 83778 Ilmenau",
        "pl. Broniewskiego 39/15, 04-023 Szczecin",
        "青森県鴨川市独鈷沢42丁目18番1号",
    ],
)
def test_addresses_with_city_region_and_postcode(address):
    assert is_address(address)


def test_unique_phones_and_addresses_are_pii_not_identifiers():
    phones = [f"{200 + i}-555-{1000 + i}x{i}" for i in range(100)]
    assert scan_column("phone", phones).pii_type == "phone"
    assert scan_column("contact", [f"{i} Main Terrace, Springfield, IL 6270{i % 10}" for i in range(100)])


def test_checksums_separate_real_numbers_from_look_alikes():
    assert is_card("4111 1111 1111 1111")
    assert not is_card("4111 1111 1111 1112")  # Luhn fails
    assert is_iban("DE89 3704 0044 0532 0130 00")
    assert not is_iban("DE89 3704 0044 0532 0130 01")  # mod-97 fails
    assert not is_phone("2026-11-01")
    assert not is_phone("100234567")  # bare digits without a trunk prefix: an order number
    assert not is_phone("2015-000001")
    assert is_national_id("123-45-6789") and not is_national_id("123456789")  # an SSN needs its shape…
    assert is_national_id("123456789", hinted=True)  # …or a column that says ssn


def test_a_join_key_is_pseudonymised_and_the_rest_dropped():
    emails = [f"user{i}@example.com" for i in range(50)]
    assert scan_column("login", emails, join_key=True).treatment == "pseudonymize"
    assert scan_column("email", emails).treatment == "drop"


def test_a_few_stray_matches_do_not_make_a_structured_column_pii():
    assert scan_column("ref", ["user@example.com"] * 5 + ["ABC-123"] * 95) is None


@pytest.mark.parametrize(
    ("column", "values", "flagged"),
    [
        ("customer_name", ["x1", "y2"], True),
        ("surname", ["x1", "y2"], True),
        ("product_name", ["Widget", "Cable"], False),
        ("name", ["cali_ckn", "hawaiian_m"], False),  # a column called just `name` must hold names
        ("name", ["Ana Núñez", "Jürgen Groß"], True),
    ],
)
def test_column_names_that_say_person_name(column, values, flagged):
    assert (scan_column(column, values) is not None) == flagged
