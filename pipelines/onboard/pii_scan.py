"""PII detection for a user's columns, by column name and by sampled values, each finding with its reason.

Rules are patterns plus checksums from kept libraries: python-stdnum (IBAN mod-97, Luhn, national identifier
check digits) and phonenumbers (the libphonenumber metadata, offline). Presidio-style NER would need a model
download at run time, which this kit cannot assume; so person names are found by column name and by the
shape of the values, and that is said in each finding's reason.

A structured rule flags a column when most sampled values match (`STRUCTURED_SHARE`), so a product code that
happens to pass a checksum now and then is not PII; free text is flagged when even a few values contain PII.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import phonenumbers
from stdnum import iban, luhn
from stdnum.be import nn
from stdnum.br import cpf
from stdnum.ca import sin
from stdnum.ch import ssn as ch_ssn
from stdnum.cl import rut
from stdnum.cn import ric
from stdnum.cz import rc
from stdnum.de import idnr
from stdnum.dk import cpr
from stdnum.es import dni, nie
from stdnum.fi import hetu
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.in_ import aadhaar
from stdnum.it import codicefiscale
from stdnum.kr import rrn
from stdnum.mx import curp
from stdnum.nl import bsn
from stdnum.no import fodselsnummer
from stdnum.pl import pesel
from stdnum.pt import cc
from stdnum.ro import cnp
from stdnum.se import personnummer
from stdnum.tr import tckimlik
from stdnum.us import ssn
from stdnum.za import idnr as za_idnr

STRUCTURED_SHARE = 0.8  # most values must match: one stray look-alike does not make a column PII
HINTED_SHARE = 0.5  # when the column's name says what it holds, half the values confirming it is enough
GENERIC_NAME_SHARE = 0.5  # a column called just `name` must hold name-shaped values to be taken for people
FREE_TEXT_SHARE = 0.02  # a few notes with an e-mail address in them already put the column at risk
FREE_TEXT_MIN_CHARS = 25
VALUE_SAMPLE = 300  # values tested per column: the share is stable well before this, and phone parsing costs
# Where a national-format phone number is tried (an international one carries its own country code).
PHONE_REGIONS = (
    "US", "CA", "GB", "IE", "DE", "AT", "CH", "FR", "BE", "NL", "LU", "ES", "PT", "IT", "PL", "CZ", "SK", "SE",
    "NO", "DK", "FI", "BR", "MX", "AR", "CO", "IN", "JP", "CN", "KR", "AU", "NZ", "ZA", "RU", "TR",
)  # fmt: skip

# \w, not [A-Za-z0-9]: internationalised addresses (RFC 6531, e.g. chloé@…) are personal data too
EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
DISPLAY_EMAIL = re.compile(r'(?:"[^"]*"|[^<>"@]*)\s*<([^<>\s]+)>')  # the address inside a display form
PHONE_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extn\.?|extension|#|доб\.?)\s*\d{1,6}$", re.IGNORECASE)
PHONE_SHAPE = re.compile(r"^\+?[\d\s().\-/]{6,24}$")
NANP_SHAPE = re.compile(r"^(?:\+?1[-. ]?)?\(?\d{3}\)?[-. ]?\d{3}[-. ]\d{4}$")  # North American numbers
DATE_SHAPE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
CARD_SHAPE = re.compile(r"^(?:\d[ -]?){12,18}\d$")
# Street types in many languages, with the USPS standard suffixes (Publication 28) and their abbreviations.
STREET_WORDS = (
    r"street|st|road|rd|avenue|ave|av|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|square|sq|terrace|ter"
    r"|trail|trl|parkway|pkwy|highway|hwy|circle|cir|crescent|cres|close|grove|gardens|row|walk|hill|park|plaza"
    r"|alley|aly|bypass|causeway|crossing|expressway|freeway|junction|loop|mall|mews|path|pike|point|ridge|route"
    r"|run|spur|station|turnpike|view|villas?|vista|wharf|green|heights|hts|mount|mt|rise|wynd|quay|embankment"
    r"|rue|chemin|impasse|allée|allee|quai|cours|route|passage|sentier|voie"
    r"|calle|c/|avenida|avda|paseo|plaza|camino|carretera|ronda|travesía|travesia|glorieta|callejón|acceso"
    r"|via|viale|piazza|corso|vicolo|largo|strada|contrada|borgo|canale|piazzale|salita|rotonda"
    r"|rua|travessa|alameda|praça|praca|largo|estrada|rodovia|quadra|vila|conjunto|setor"
    r"|laan|straat|weg|plein|gracht|kade|dijk|steeg|singel|hof|pad"
    r"|gatan|gata|vägen|vagen|väg|gränd|torget|allén|stig|gade|vej|gaden|vejen|tie|katu|polku"
    r"|ulica|ul|aleja|al|plac|pl|osiedle|os|rynek|náměstí|namesti|ulice|nábřeží|třída|trida"
    r"|chowk|nagar|marg|road|colony|sector|lane|gali|apt|apartment|suite|ste|unit|floor|flat|piso|puerta"
    r"|utca|u(?=\.)|út|útja|tér|körút|krt|köz|sor|fasor|sétány|rakpart"  # Hungarian
    r"|strada|str|bd|bulevardul|calea|aleea|șoseaua|soseaua|sos|piața|piata|splaiul|intrarea"  # Romanian
    r"|cad|cadde|caddesi|sok|sokak|sokağı|sk(?=\.)|mah|mahalle|mahallesi|bulvar|bulvarı|blv"  # Turkish
    r"|cesta|trg|ulica|obala|put|nám|námestie|gatvė|g(?=\.)|pr|prospektas|iela|tänav|mnt|maantee|pst|puiestee"
    r"|ул|улица|вул|вулиця|пр|просп|проспект|пер|переулок|провулок|ш|шоссе|наб|набережная|б-р|бульвар|бул"
    r"|пл|площадь|площа|туп|тупик|мкр|д|дом|кв|οδός|οδος|οδ|λεωφ|λεωφόρος|πλατεία"  # Cyrillic, Greek
    r"|jl|jln|jalan|gg|gang|lorong|lrg|đường|duong|phố|pho|ngõ|ngo|hẻm|hem|quận|phường|huyện|tp|kalye|purok"
    r"|barangay|brgy"
    r"|rehov|sderot|שדרות|רחוב|רח|شارع|ش|طريق|زنقة|درب|حي|ممر|خیابان|کوچه|بلوار|ถนน|ถ|ซอย|ซ|หมู่|मार्ग|रोड|गली|नगर"
)
STREET_SUFFIX = (
    r"(?:stra(?:ss|ß)e|str\.?|weg|platz|gasse|allee|ring|damm|ufer|steig|chaussee|gatan|vägen|vej|gade|laan|straat"
    r"|plein|gracht|kade)"
)
POSTCODE = re.compile(
    r"\b\d{5}(?:-\d{4})?\b"  # US ZIP, DE/FR/ES/IT/FI…
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"  # GB
    r"|\b\d{4}\s?[A-Z]{2}\b"  # NL
    r"|\b\d{2}-\d{3}\b"  # PL
    r"|\b\d{3}\s\d{2}\b"  # SE, CZ, SK
    r"|\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b"  # CA
    r"|\b\d{5}-?\d{3}\b"  # BR
    r"|\b\d{3}-\d{4}\b|〒"  # JP
    r"|\b\d{6}\b"  # IN, CN, RU
    r"|\b\d{4}\b"  # AT, BE, CH, DK, NO, AU, NZ, ZA…
    r"|\b[A-Z]{1,3}-\d{3,5}\b"  # a country prefix (H-3598, D-10115, CH-8000, LT-01100, LV-1050)
    r"|\b[A-Z]\d{2}\s?[A-Z\d]{4}\b"  # IE Eircode
    r"|\b[A-Z]\d{4}[A-Z]{3}\b"  # AR
)
SEPARATOR = r"[\s,;/،，、]"  # between the parts of an address: Latin, Arabic and CJK commas too
ADDRESS_WORD = re.compile(
    rf"(?:^|{SEPARATOR})(?:{STREET_WORDS})\.?(?={SEPARATOR}|$)|\w{STREET_SUFFIX}(?=[\s,.]|$)", re.IGNORECASE
)
HOUSE_NUMBER = re.compile(
    rf"(?:^|{SEPARATOR})(?:no[.:]?\s*|nº\s*|n°\s*|#|д\.\s*)?\d{{1,5}}(?:\s?[^\W\d_])?(?:[/-]\d{{1,5}}[^\W\d_]?)?"
    rf"(?=[.]|{SEPARATOR}|$)"
)
# administrative units and street parts, simplified and traditional (號 巷 弄 樓 縣 區 鄉 鎮 段)
CJK_ADDRESS = re.compile(
    r"(?:都|道|府|県|市|区|町|村|郡|省|路|街|号|號|巷|弄|楼|樓|縣|县|區|鄉|乡|鎮|镇|段|丁目|番地?|시|구|동|로|길|읍|면)"
)
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
# Scripts without letter case: Hebrew, Arabic (and its presentation forms), the Indic scripts from Devanagari to
# Sinhala, Thai, Lao, Myanmar, Georgian, Ethiopic, Khmer. Their names cannot be told from other words by shape.
UNCASED = re.compile(
    r"[\u0590-\u06ff\u0750-\u077f\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f\u10a0-\u10ff\u1200-\u137f\u1780-\u17ff"
    r"\ufb1d-\ufdff\ufe70-\ufeff]"
)
NAME_PARTICLES = {
    "de", "van", "von", "der", "den", "da", "di", "del", "la", "le", "bin", "al", "dos", "das", "do", "du", "y", "e",
    "ter", "ten", "zu", "af", "av", "el", "ibn", "st.", "mc", "ó", "ní", "nic", "uí", "mac", "ben", "binti", "bint",
    "abu", "ould", "dela", "della", "degli", "ap",
}  # fmt: skip
INITIAL = re.compile(r"[^\W\d_]\.")
NAME_AFFIXES = {
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "herr", "frau", "mme", "mlle", "m", "sr", "sra",
    "srta", "don", "doña", "dona", "sig", "sig.ra", "dott", "ing", "mgr", "pan", "pani", "jr", "ii", "iii",
    "iv", "md", "phd", "dds", "dvm", "esq", "b.sc", "m.sc", "mba", "bsc", "msc", "ba", "ma", "dipl", "univ",
    "shri", "smt", "kum", "mag", "jun", "sen",
}  # fmt: skip
# Words that make a capitalised phrase an organisation or a place, not a person.
NOT_A_PERSON = {
    "airport", "field", "regional", "municipal", "international", "county", "city", "station", "base", "park",
    "inc", "inc.", "llc", "ltd", "ltd.", "gmbh", "ag", "corp", "co", "company", "group", "bank", "hotel",
    "university", "college", "school", "hospital", "church", "center", "centre", "club", "airlines", "air",
    "lines", "airways", "street", "road", "avenue", "river", "lake", "mountain", "island", "beach", "the", "of",
    "and", "for", "edition", "coupe", "sedan", "convertible", "series", "model", "storm", "hurricane", "tropical",
    "africa", "asia", "europe", "america", "oceania", "eastern", "western", "northern", "southern", "central",
    "middle", "republic", "kingdom", "islands", "states", "united", "federation", "region", "province", "territory",
}  # fmt: skip
# A person's name by column name: `name` alone or with a person-ish prefix (not product_name, file_name, …).
NAME_COLUMN = re.compile(
    r"^(?:(?:full|first|last|given|family|middle|maiden|customer|contact|client|user|employee|patient|owner"
    r"|account_?holder|card_?holder|person|sender|recipient|borrower|applicant|kunden?|vor|nach|nom_?de)_?)?name$"
    r"|^(?:surname|forename|borrower|applicant|holder|contact|contact_?person|nom|prenom|prénom|nombre|apellidos?|nome|cognome|naam"
    r"|achternaam|voornaam|imie|imię|nazwisko|namn|efternamn|fornavn|efternavn|氏名|名前|姓名|이름"
    r"|nimi|navn|jméno|jmeno|meno|ime|vardas|vārds|név|ad_?soyad|фио|имя|ім'я|όνομα|ονοματεπώνυμο|שם|اسم|الاسم|نام"
    r"|ชื่อ|नाम)$"
    r"|^(?:nom|nombre|nome|naam|navn|namn|name)_(?:client|cliente|kunde|klant|kund|kunde|customer|titulaire"
    r"|completo|complet|completa)$",
    re.IGNORECASE,
)
# What a column's name says it holds (lowercase, separators as "_"): the values then need to agree less.
NAME_HINTS: dict[str, re.Pattern] = {
    "email": re.compile(r"e_?mail|correo|courriel|mail_?address"),
    "phone": re.compile(
        r"phone|tel(?:e|é|ef)?|mobile?|cell|handy|fax|gsm|celular|m[oó]vil|numer_?tel|puhelin|tlf|fono|contact_?(?:no|nr"
        r"|num|number)$|телефон|моб|τηλ|טלפון|هاتف|تلفن|โทร|फ़ोन|फोन|電話|电话|手机|전화"
    ),
    "address": re.compile(
        r"addr|adress|anschrift|direcci[oó]n|indirizzo|endere[cç]o|street|stra(?:ss|ß)e|住所|주소|domicil"
    ),
    "national_id": re.compile(
        r"ssn|social_?sec|national_?id|nino|nin$|personnummer|pesel|bsn|nif|nie|dni|cpf|aadhaa?r|tax_?id|^tin$|"
        r"steuer|codice_?fiscale|curp|^sin$|personal_?id|id_?number|idnr|hetu|cpr|fodselsnummer|rodne"
    ),
    "account": re.compile(r"iban|bban|account|acct|konto|compte|cuenta|rekening|bank|payout"),
    "date_of_birth": re.compile(
        r"birth|dob|geburt|naissance|nacimiento|nascita|geboorte|urodzenia|f[öo]delse|f[øo]dsel|生年月日"
    ),
}


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
    """An address alone, or as mail programs export it: `Name <address>`, `"Smith, J" <address>`, `mailto:…`."""
    text = value.strip().removeprefix("mailto:")
    display = DISPLAY_EMAIL.fullmatch(text)
    return EMAIL.fullmatch(display.group(1) if display else text) is not None


def _phone_text(value: str) -> str | None:
    """The number part of a phone as written (extension, `(0)` and an international `00`/`011` prefix
    normalised), or None when it is not shaped like one."""
    text = PHONE_EXTENSION.sub("", value.strip().removeprefix("tel:")).replace("(0)", " ")
    text = re.sub(r"^\(\+(\d{1,4})\)", r"+\1 ", text)  # (+971) 52 672 9635
    if not PHONE_SHAPE.match(text) or DATE_SHAPE.match(text):
        return None
    digits = sum(c.isdigit() for c in text)
    if not 7 <= digits <= 15:
        return None
    for prefix in ("011", "00"):
        if text.startswith(prefix):
            return "+" + text[len(prefix) :].lstrip(" -.")
    return text


def _valid_somewhere(text: str) -> bool:
    for region in PHONE_REGIONS:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(text, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


def is_phone(value: str, hinted: bool = False) -> bool:
    """A phone number in an international or national format, extensions included. A bare run of digits
    without a trunk `0` is an order or account number unless the column's name says phone (`hinted`); there,
    anything written as a phone (a prefix, or digit groups) counts, valid or not."""
    text = _phone_text(value)
    if text is None:
        return False
    if hinted and (text.startswith(("+", "0", "(")) or len(re.findall(r"\d+", text)) >= 3):
        return True  # written as a phone where the name says phone: a wrong or dead number is still someone's
    if text.startswith("+"):  # a real country calling code and a possible length: PII whatever the operator
        try:
            return phonenumbers.is_possible_number(phonenumbers.parse(text, None))
        except phonenumbers.NumberParseException:
            return False
    if NANP_SHAPE.match(text):
        return True
    # a national number is written with its trunk prefix (0…, (0…)); other digit groups (2015-000001) are
    # order or account numbers, unless the column's name says phone
    return (hinted or text.startswith(("0", "("))) and _valid_somewhere(text)


def is_card(value: str) -> bool:
    digits = re.sub(r"[ -]", "", value)
    return bool(CARD_SHAPE.match(value)) and CARD_PREFIXES.match(digits) is not None and luhn.is_valid(digits)


def is_iban(value: str) -> bool:
    return len(value) >= 15 and iban.is_valid(value)


def is_account(value: str, hinted: bool = False) -> bool:
    """An IBAN or a card anywhere; a national account number (8–30 digits and letters) only where the column's
    name says account: by value alone it is an order number."""
    if is_iban(value) or is_card(value):
        return True
    compact = re.sub(r"[\s-]", "", value)
    return hinted and 8 <= len(compact) <= 30 and compact.isalnum() and sum(c.isdigit() for c in compact) >= 6


# Personal identifiers with check digits (the US SSN, which has none, is handled apart in is_national_id).
NATIONAL_IDS = (
    sin, nhs, idnr, dni, nie, nir, codicefiscale, bsn, pesel, personnummer, fodselsnummer, cpr, hetu, nn, ch_ssn, cc,
    cpf, curp, rut, aadhaar, ric, rrn, za_idnr, tckimlik, cnp, rc,
)  # fmt: skip
CARD_PREFIXES = re.compile(r"^(4|5[1-5]|2[2-7]|3[47]|6(011|5)|35)")
UK_NINO_SHAPE = re.compile(r"^[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]$")  # no check digit: the shape is rare
US_SSN_SHAPE = re.compile(r"^\d{3}[- ]\d{2}[- ]\d{4}$")
ALNUM_ID = re.compile(r"[A-Z0-9]{6,20}")
# digits in groups, letters at the ends only (AB 12 34 56 C, 12345678-Z, X-1234567-L)
ID_SHAPE = re.compile(r"[A-Z]{0,3}[\s./-]?(?:\d[\s./-]?){5,17}\d(?:[\s./-]?[A-Z]{1,2})?", re.IGNORECASE)


def _valid(module, value: str) -> bool:
    """A python-stdnum check that never raises: some validators trip over odd input (cn.ric raises KeyError on
    a birth-place code its table lacks), and one odd value must not stop `init`."""
    try:
        return bool(module.is_valid(value))
    except Exception:  # any failure of a check means "not this identifier"
        return False


def is_national_id(value: str, hinted: bool = False) -> bool:
    """A personal identifier with valid check digits for one of many countries. The US SSN has none, so by
    value alone only its written shape counts (123-45-6789); bare digits need the column's name."""
    compact = value.strip()
    if any(_valid(module, compact) for module in NATIONAL_IDS) or UK_NINO_SHAPE.match(compact):
        return True
    if hinted and ID_SHAPE.fullmatch(compact) and sum(c.isdigit() for c in compact) >= 6:
        return True  # the name says so, and the value is shaped like one: a check digit is not every id's
    if hinted and ALNUM_ID.fullmatch(compact) and any(c.isdigit() for c in compact):
        return True  # an upper-case letter-and-digit code (an Azerbaijani FIN, a passport number)
    return ssn.is_valid(compact) and (hinted or US_SSN_SHAPE.match(compact) is not None)


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _place_word(part: str) -> bool:
    """A town's name beside the postcode: a word of three or more letters (vowel signs of Indic scripts, which
    are marks and not letters, do not break it)."""
    return any(sum(c.isalpha() for c in word) >= 3 for word in re.split(r"[\s\d-]+", part))


def is_address(value: str, hinted: bool = False) -> bool:
    """A postal address in its many written forms: a house number beside a street type word (545 Curry Terrace,
    Hauptstraße 5, ul. Kwiatowa 5/3, 12 rue de Rivoli, Váci utca 2.), or a house number with a postcode and a
    place (…, Port Amandaville, SD 53349); CJK addresses by their administrative units and numbers. Where the
    column's name says address, a number and a place in two or more parts are enough."""
    if CJK.search(value):
        return len(CJK_ADDRESS.findall(value)) >= 2 and any(c.isdigit() for c in value)
    number, postcode = HOUSE_NUMBER.search(value) is not None, POSTCODE.search(value) is not None
    if ADDRESS_WORD.search(value):
        return number or postcode
    parts = [p.strip() for p in re.split(r"[,;/\n،，、]|\s-\s", value) if p.strip()]
    placed = len(parts) >= 2 and any(_place_word(p) for p in parts[1:])
    return placed and (number or hinted) and (postcode or hinted)


def _uncased_word(token: str) -> bool:
    """A word of a script without letter case (Arabic, Hebrew, Thai, Devanagari, …), vowel marks included."""
    return (
        UNCASED.search(token) is not None
        and 2 <= len(token) <= 20
        and all(c.isalpha() or unicodedata.category(c).startswith("M") for c in token)
    )


def _name_token(token: str, allow_caps: bool = False, hinted: bool = False) -> bool:
    """Capitalised letters of any cased script (Groß, Núñez, Иванов), apostrophes, hyphens (O'Brien, Jean-Luc);
    ALL CAPS only when `allow_caps` (a SURNAME beside a given name); one to four characters of CJK (木村, 김민준);
    a word of a script without case only where the column's name says names (`hinted`): by value alone it could
    be any word."""
    if CJK.search(token):
        return 1 <= len(token) <= 4 and all(CJK.match(c) for c in token)
    if UNCASED.search(token):
        return hinted and _uncased_word(token)
    parts = token.split("-")
    return (allow_caps or not token.isupper()) and all(
        len(part) > 1 and part[0].isupper() and part[1:].replace("'", "").replace("’", "").isalpha() for part in parts
    )


def _is_title(token: str, first: bool) -> bool:
    """A known title or suffix (Dr, Frau, PhD), or an abbreviation with a dot before the name (Öğr., Bc., Ing.)."""
    bare = token.lower().rstrip(".")
    return bare in NAME_AFFIXES or (first and token.endswith(".") and 1 <= len(bare) <= 5 and bare.isalpha())


def looks_like_person_name(value: str, hinted: bool = False) -> bool:
    text = value.replace(",", " ")  # "Smith, John", "SMITH, John"
    tokens = [t for i, t in enumerate(text.split()) if not _is_title(t, first=i == 0)]
    if any(t.lower().strip(".") in NOT_A_PERSON for t in tokens):
        return False
    named = [t for t in tokens if t.lower() not in NAME_PARTICLES and not INITIAL.fullmatch(t)]  # J. R. R. Tolkien
    if len(tokens) == 1 and CJK.search(tokens[0]):  # 王秀英: a CJK full name is often written unspaced
        return 2 <= len(tokens[0]) <= 4 and all(CJK.match(c) for c in tokens[0])
    # capitals: a SURNAME beside a given name ("DUPONT Marie"), or every word where the column says names
    allow_caps = hinted or any(not t.isupper() for t in named)
    return 2 <= len(tokens) <= 5 and len(named) >= 2 and all(_name_token(t, allow_caps, hinted) for t in named)


DATE_WITH_MONTH_WORD = re.compile(
    # 12 Mar 1985, 12. März 1985, 12 de marzo de 1985
    r"(\d{1,2})\.?\s+(?:de\s+)?([^\W\d_]{3,12})\.?,?\s+(?:de\s+)?(\d{4})"
    r"|([^\W\d_]{3,12})\.?\s+(\d{1,2}),?\s+(\d{4})"  # March 12, 1985
)


def _birth_year(value: str, hinted: bool) -> int | None:
    """The year of a date written with digits, with a month's name (any language: a column whose values are
    mostly `<day> <word> <year>` holds dates), or as 8 digits where the column's name says birth."""
    text = value.strip()
    match = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})|(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", text)
    if match:
        return int(match.group(1) or match.group(6))
    match = DATE_WITH_MONTH_WORD.fullmatch(text)
    if match:
        return int(match.group(3) or match.group(6))
    if hinted and re.fullmatch(r"(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", text):  # 19850312
        return int(text[:4])
    return None


def is_birth_date(value: str, hinted: bool = False) -> bool:
    """A calendar date in a birth-date range (1900 to 16 years ago); columns need most values to be one."""
    year = _birth_year(value, hinted)
    return year is not None and 1900 <= year <= dt.date.today().year - 16


# (pii type, rule description, matcher): structured values, one value at a time. A matcher that takes
# `hinted` is told when the column's name says the type, and then accepts forms that are ambiguous alone.
VALUE_RULES: tuple[tuple[str, str, Callable[..., bool]], ...] = (
    ("email", "e-mail address pattern", is_email),
    ("card_number", "payment card number (issuer prefix + Luhn checksum)", is_card),
    ("iban", "IBAN (country format + mod-97 checksum)", is_iban),
    ("national_id", "personal identifier with valid check digits (python-stdnum, many countries)", is_national_id),
    ("ip_address", "IPv4/IPv6 address", is_ip),
    ("phone", "phone number (libphonenumber: country code + possible length, or valid national number)", is_phone),
    ("address", "postal address (house number + street type, or + postcode and place)", is_address),
    ("account", "bank account number (IBAN, card, or account-shaped where the name says account)", is_account),
    ("person_name", "two to five capitalised name words, or a CJK name (no NER model offline)", looks_like_person_name),
)
DATE_OF_BIRTH = ("date_of_birth", "dates in a birth-date range", is_birth_date)
# A name that says a column holds when something happened (not a birth date, whatever its years)
EVENT_DATE_NAME = re.compile(
    r"date|time|(?:^|[_\s])(?:day|at|on|ts|created|updated|modified|start|end)$|^(?:created|updated)"
)
HINTABLE = {"phone", "national_id", "account", "address", "person_name", "date_of_birth"}  # take `hinted`
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


def name_hints(name: str) -> set[str]:
    """The PII types a column's name points at (`Telefon`, `E-Mail`, `date_of_birth`, `payout_iban`, …)."""
    normal = re.sub(r"[\s\-.]+", "_", name.strip().lower())
    hints = {pii_type for pii_type, pattern in NAME_HINTS.items() if pattern.search(normal)}
    if NAME_COLUMN.search(normal):
        hints.add("person_name")
    return hints


def _hint_key(pii_type: str) -> str:
    return {"iban": "account", "card_number": "account"}.get(pii_type, pii_type)


def scan_column(name: str, values: Sequence[str], join_key: bool = False) -> PiiFinding | None:
    """The strongest PII finding for one column, from its name and a sample of its non-empty values as text.

    Values decide: a rule flags the column when most values match (half, when the column's name says that
    type). A name alone flags only person names and birth dates, the types no value rule can confirm.
    """
    treatment = "pseudonymize" if join_key else "drop"
    sample = [v.strip() for v in values if v is not None and v.strip()][:VALUE_SAMPLE]
    hints = name_hints(name)
    if sample:
        for pii_type, rule, matcher in (*VALUE_RULES, DATE_OF_BIRTH):
            hinted = _hint_key(pii_type) in hints
            if pii_type == "date_of_birth" and not hinted and EVENT_DATE_NAME.search(name.lower()):
                continue  # `trade_date`, `created_at`: old dates of events, not of births
            if pii_type in HINTABLE:
                share = _share(sample, lambda v, m=matcher, h=hinted: m(v, hinted=h))
            else:
                share = _share(sample, matcher)
            if share >= (HINTED_SHARE if hinted else STRUCTURED_SHARE):
                return PiiFinding(name, pii_type, rule, share, treatment)
        long_text = [v for v in sample if len(v) >= FREE_TEXT_MIN_CHARS and " " in v]
        if len(long_text) >= len(sample) / 2:
            for pii_type, pattern in EMBEDDED_RULES:
                share = _share(long_text, lambda v, t=pii_type, p=pattern: _embedded_checks(t, v, p))
                if share >= FREE_TEXT_SHARE:
                    return PiiFinding(
                        name, f"free_text_with_{pii_type}", f"free text containing {pii_type}", share, "drop"
                    )
    for pii_type in ("person_name", "date_of_birth"):
        if pii_type in hints and not _contradicted(name, pii_type, sample):
            return PiiFinding(name, pii_type, "column name says it holds this", None, treatment)
    return None


def _contradicted(name: str, pii_type: str, sample: list[str]) -> bool:
    """A name that says "person name" is believed unless the values say otherwise: numbers, or (for a column
    called just `name`, which also names products and places) values that mostly are not shaped like names."""
    if pii_type != "person_name" or not sample:
        return False
    if all(v.replace(".", "").isdigit() for v in sample):
        return True
    return name.strip().lower() == "name" and _share(sample, looks_like_person_name) < GENERIC_NAME_SHARE
