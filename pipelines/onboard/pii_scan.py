"""PII detection for a user's columns, by column name and by sampled values, each finding with its reason.

Rules are patterns plus checksums from kept libraries: python-stdnum (IBAN mod-97, Luhn, national identifier
check digits) and phonenumbers (the libphonenumber metadata, offline). Presidio-style NER would need a model
download at run time, which this kit cannot assume; so person names are found by column name and by the
shape of the values, and that is said in each finding's reason.

A structured rule flags a column when most sampled values match (`STRUCTURED_SHARE`), so a product code that
happens to pass a checksum now and then is not PII; free text is flagged when even a few values contain PII.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import phonenumbers
from stdnum import iban, luhn
from stdnum.de import idnr
from stdnum.es import dni
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.se import personnummer
from stdnum.us import ssn

STRUCTURED_SHARE = 0.8  # most values must match: one stray look-alike does not make a column PII
FREE_TEXT_SHARE = 0.02  # a few notes with an e-mail address in them already put the column at risk
FREE_TEXT_MIN_CHARS = 25
PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "PL", "SE")

# \w, not [A-Za-z0-9]: internationalised addresses (RFC 6531, e.g. chloé@…) are personal data too
EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
PHONE_SHAPE = re.compile(r"^\+?[\d\s().\-/]{7,20}$")
DATE_SHAPE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
CARD_SHAPE = re.compile(r"^(?:\d[ -]?){12,18}\d$")
STREET_WORDS = (
    r"street|st\.?|road|rd\.?|avenue|ave\.?|lane|ln\.?|drive|dr\.?|boulevard|blvd\.?|way|court|ct\.?"
    r"|rue|via|calle|avenida|laan|gatan|ulica|ul\."
)
ADDRESS = re.compile(
    rf"(?:^|\s)\d{{1,5}}[a-z]?,?\s+(?:[\w'.-]+\s+){{0,4}}(?:{STREET_WORDS})(?:\s|,|$)"
    rf"|(?:^|\s)(?:{STREET_WORDS})\s+(?:[\w'.-]+\s+){{0,4}}\d{{1,5}}\b"
    r"|\w+(?:stra(?:ss|ß)e|str\.|weg|platz|gasse|allee)\s+\d{1,5}[a-z]?\b",
    re.IGNORECASE,
)
NAME_PARTICLES = {"de", "van", "von", "der", "den", "da", "di", "del", "la", "le", "bin", "al"}
# A person's name by column name: `name` alone or with a person-ish prefix (not product_name, file_name, …).
NAME_COLUMN = re.compile(
    r"^(?:(?:full|first|last|given|family|middle|maiden|customer|contact|client|user|employee|patient|owner"
    r"|account_?holder|card_?holder|person|sender|recipient)_?)?name$|^(?:surname|forename)$",
    re.IGNORECASE,
)
NATIONAL_IDS = (ssn, idnr, dni, nir, nhs, codicefiscale, bsn, pesel, personnummer)
CARD_PREFIXES = re.compile(r"^(4|5[1-5]|2[2-7]|3[47]|6(011|5)|35)")


@dataclass(frozen=True)
class PiiFinding:
    column: str
    pii_type: str
    rule: str
    share: float | None  # share of sampled non-empty values that matched; None for a name-only finding
    treatment: str  # "drop" | "pseudonymize"

    @property
    def reason(self) -> str:
        matched = f"{self.share:.0%} of sampled values" if self.share is not None else "column name"
        return f"{self.pii_type}: {self.rule} ({matched})"


def is_email(value: str) -> bool:
    return EMAIL.fullmatch(value) is not None


def is_phone(value: str) -> bool:
    if not PHONE_SHAPE.match(value) or DATE_SHAPE.match(value) or sum(c.isdigit() for c in value) < 7:
        return False
    if not value.startswith(("+", "0", "(")) and value.isdigit():
        return False  # a bare run of digits without a trunk prefix is an order or account number, not a phone
    if value.startswith("+"):  # a real country calling code and an E.164 length are enough: PII either way
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return False
        return 6 <= len(str(number.national_number)) <= 14
    for region in PHONE_REGIONS:  # a national format: it must be a valid number somewhere
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(value, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


def is_card(value: str) -> bool:
    digits = re.sub(r"[ -]", "", value)
    return bool(CARD_SHAPE.match(value)) and CARD_PREFIXES.match(digits) is not None and luhn.is_valid(digits)


def is_iban(value: str) -> bool:
    return len(value) >= 15 and iban.is_valid(value)


def is_national_id(value: str) -> bool:
    return any(module.is_valid(value) for module in NATIONAL_IDS)


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_address(value: str) -> bool:
    return ADDRESS.search(value) is not None


def _name_token(token: str) -> bool:
    """Capitalised letters of any script (Groß, Núñez), apostrophes, hyphens (O'Brien, Jean-Luc); not ALL CAPS."""
    parts = token.split("-")
    return not token.isupper() and all(
        len(part) > 1 and part[0].isupper() and part[1:].replace("'", "").replace("’", "").isalpha() for part in parts
    )


def looks_like_person_name(value: str) -> bool:
    tokens = value.split()
    named = [t for t in tokens if t.lower() not in NAME_PARTICLES]
    return 2 <= len(tokens) <= 5 and len(named) >= 2 and all(_name_token(t) for t in named)


# (pii type, rule description, matcher): structured values, one value at a time.
VALUE_RULES: tuple[tuple[str, str, Callable[[str], bool]], ...] = (
    ("email", "e-mail address pattern", is_email),
    ("card_number", "payment card number (issuer prefix + Luhn checksum)", is_card),
    ("iban", "IBAN (country format + mod-97 checksum)", is_iban),
    (
        "national_id",
        "national identifier with valid check digits (US SSN, DE IdNr, ES DNI, FR NIR, GB NHS, "
        "IT CF, NL BSN, PL PESEL, SE PNR)",
        is_national_id,
    ),
    ("ip_address", "IPv4/IPv6 address", is_ip),
    ("phone", "phone number (libphonenumber: country code + E.164 length, or valid national number)", is_phone),
    ("address", "street address (number + street word)", is_address),
    ("person_name", "two to five capitalised name words (no NER model offline)", looks_like_person_name),
)
# What free text is searched for inside it.
EMBEDDED_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("email", EMAIL),
    ("phone", re.compile(r"\+\d[\d\s().-]{7,16}\d")),
    ("card_number", re.compile(r"\b(?:\d[ -]?){12,18}\d\b")),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")),
    ("ip_address", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")),
)


def _share(values: Sequence[str], matcher: Callable[[str], bool]) -> float:
    return sum(1 for v in values if matcher(v)) / len(values)


def _embedded_checks(pii_type: str, text: str, pattern: re.Pattern) -> bool:
    """A pattern inside free text, confirmed by the same checksum a whole value would need."""
    confirm = {
        "card_number": is_card,
        "iban": lambda s: is_iban(s.replace(" ", "")),
        "phone": is_phone,
        "ip_address": is_ip,
    }.get(pii_type, lambda _s: True)
    return any(confirm(m.group(0)) for m in pattern.finditer(text))


def scan_column(name: str, values: Sequence[str], join_key: bool = False) -> PiiFinding | None:
    """The strongest PII finding for one column, from its name and a sample of its non-empty values as text."""
    treatment = "pseudonymize" if join_key else "drop"
    sample = [v.strip() for v in values if v is not None and v.strip()]
    if sample:
        for pii_type, rule, matcher in VALUE_RULES:
            share = _share(sample, matcher)
            if share >= STRUCTURED_SHARE:
                return PiiFinding(name, pii_type, rule, share, treatment)
        long_text = [v for v in sample if len(v) >= FREE_TEXT_MIN_CHARS and " " in v]
        if len(long_text) >= len(sample) / 2:
            for pii_type, pattern in EMBEDDED_RULES:
                share = _share(long_text, lambda v, t=pii_type, p=pattern: _embedded_checks(t, v, p))
                if share >= FREE_TEXT_SHARE:
                    return PiiFinding(
                        name, f"free_text_with_{pii_type}", f"free text containing {pii_type}", share, "drop"
                    )
    if NAME_COLUMN.search(name) and not (sample and all(v.replace(".", "").isdigit() for v in sample)):
        return PiiFinding(name, "person_name", "column name says it holds names", None, treatment)
    return None
