"""How well `mlrig init` finds PII, measured on values it was not written beside.

PII columns come from two independent generators: Faker (development locales: the rules were tried on them) and,
held out, Faker in other locales plus every mimesis column (a different generator, different templates, never
looked at while writing the rules). Each (generator, locale, PII type) is one column of `ROWS` values under a
header as exports spell it. Look-alikes are real columns of public tables (tests/byod/public.py): order numbers,
product codes, tail numbers, model names, amounts, dates, zip codes, URLs, tweets, titles.

`make pii-eval` prints precision and recall per PII type and per locale, for the development and held-out sets;
docs/onboarding.md carries the table. A column counts once: found with the right type (true positive), missed or
given another type (false negative), or a look-alike flagged (false positive of the type it was given).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

import phonenumbers
from faker import Faker
from mimesis import Address, Datetime, Payment, Person
from mimesis.locales import Locale

from pipelines.onboard.pii_scan import scan_column
from tests.byod import public

ROWS = 200
DEV_LOCALES = ("en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL")
HELD_OUT_LOCALES = ("en_GB", "pl_PL", "sv_SE", "pt_BR", "ja_JP", "en_IN", "cs_CZ", "da_DK", "fi_FI", "en_AU")
# Looked at while the rules changed, in a second round: development now, like the two sets above.
FINAL_LOCALES = ("de_AT", "en_NZ", "es_MX", "fr_CH", "nl_BE", "no_NO", "hu_HU", "ro_RO", "tr_TR", "en_CA", "ko_KR")
# Held out 1: chosen before the third round of rule changes and run once after it (recall 0.970); its misses led
# the fourth round, so it is development data now. New locales (scripts without case, Cyrillic, Greek, Arabic,
# Hebrew, Thai, Devanagari among them) and new written forms of every type.
HELD_OUT_1_FAKER = (
    "en_IE", "en_PH", "es_AR", "es_CO", "es_CL", "pt_PT", "fr_CA", "fr_BE", "de_CH", "it_CH", "sk_SK", "sl_SI",
    "hr_HR", "lt_LT", "lv_LV", "et_EE", "el_GR", "ru_RU", "uk_UA", "bg_BG", "id_ID", "vi_VN", "zh_CN", "zh_TW",
    "he_IL", "ar_EG", "hi_IN", "th_TH", "fa_IR", "az_AZ",
)  # fmt: skip
HELD_OUT_1_MIMESIS = {
    "ru": Locale.RU, "uk": Locale.UK, "tr": Locale.TR, "el": Locale.EL, "hu": Locale.HU, "fi": Locale.FI,
    "no": Locale.NO, "sk": Locale.SK, "et": Locale.ET, "kk": Locale.KK, "ko": Locale.KO, "zh": Locale.ZH,
    "hr": Locale.HR, "is": Locale.IS, "ar-eg": Locale.AR_EG, "de-at": Locale.DE_AT, "en-gb": Locale.EN_GB,
    "es-mx": Locale.ES_MX, "pt": Locale.PT,
}  # fmt: skip
MIMESIS_LOCALES = {
    "en": Locale.EN, "de": Locale.DE, "fr": Locale.FR, "es": Locale.ES, "it": Locale.IT, "nl": Locale.NL,
    "pl": Locale.PL, "sv": Locale.SV, "pt-br": Locale.PT_BR, "ja": Locale.JA, "da": Locale.DA, "cs": Locale.CS,
}  # fmt: skip
# Headers as exports spell them, per type; each column draws one.
HEADERS = {
    "person_name": ("name", "Full Name", "customer_name", "Kunde Name", "nom_client", "holder", "Contact"),
    "email": ("email", "E-Mail", "contact_email", "Mail Address", "correo"),
    "phone": ("phone", "Telefon", "mobile", "Tel.", "contact_number", "téléphone"),
    "address": ("address", "Anschrift", "billing_address", "adresse", "home_address"),
    "date_of_birth": ("date_of_birth", "DOB", "birth_date", "Geburtsdatum", "fecha_nacimiento"),
    "national_id": ("national_id", "ssn", "tax_id", "personal_id", "id_number"),
    "account": ("iban", "account_number", "payout_account", "Konto", "bank_account"),
}
# Faker's own national identifier per locale (others fall back to a US-format SSN, which would mislabel them).
FAKER_IDS = {
    "en_US": "ssn", "en_GB": "ssn", "fr_FR": "ssn", "it_IT": "ssn", "nl_NL": "ssn", "sv_SE": "ssn", "fi_FI": "ssn",
    "pl_PL": "pesel", "pt_BR": "cpf", "es_ES": "nif", "en_IN": "aadhaar_id", "cs_CZ": "birth_number",
}  # fmt: skip
DOB_FORMATS = {"en_US": "%m/%d/%Y", "de_DE": "%d.%m.%Y", "fr_FR": "%d/%m/%Y", "ja_JP": "%Y/%m/%d", "pl_PL": "%d.%m.%Y"}
LOOKALIKES = {  # table → columns that hold no personal data
    "pizza_orders": ("id", "name", "price", "date", "time"),
    "planes": ("tailnum", "model", "manufacturer", "engine"),
    "airports": ("faa", "name", "tzone", "lat"),
    "cars": ("model", "trim", "msrp"),
    "tweets": ("text", "id_str", "created_at"),
    "movies": ("title", "budget"),
    "houses": ("city", "zip", "price"),
    "towns": ("website", "census_div"),
}


# Faker locales whose `ssn` is the country's own identifier (Faker's ssn/<locale> providers).
HELD_OUT_1_IDS = {
    "en_IE", "en_PH", "es_AR", "es_CO", "es_CL", "pt_PT", "de_CH", "sk_SK", "sl_SI", "hr_HR", "lt_LT", "lv_LV",
    "et_EE", "el_GR", "ru_RU", "uk_UA", "bg_BG", "zh_CN", "zh_TW", "he_IL", "th_TH", "az_AZ",
}  # fmt: skip
HELD_OUT_1_LOOKALIKES = {  # table → columns that hold no personal data
    "airlines": ("name",),
    "mpg": ("manufacturer", "model", "trans"),
    "txhousing": ("city",),
    "countrypops": ("country_name", "country_code_3"),
    "sp500": ("date", "close"),
    "metro": ("name",),
    "polls": ("pollster", "startdate"),
    "murders": ("state",),
    "smithsonian": ("name",),
    "cars93": ("Make",),
}
# Held out 2: chosen after the fourth round's rules were written, before they were run on anything, and run
# once (flagged-as-PII recall 0.989); its misses led the fifth round, so it is development data now. Locales of
# neither generator used before, other written forms, other real look-alike columns.
HELD_OUT_2_FAKER = (
    "en_KE", "en_NG", "en_PK", "en_BD", "en_TH", "es_VE", "es_CA", "fr_QC", "de_LU", "de_LI", "el_CY", "bs_BA",
    "sr_BA", "mk_MK", "sq_AL", "is_IS", "ga_IE", "mt_MT", "ka_GE", "hy_AM", "uz_UZ", "ta_IN", "bn_BD", "ne_NP",
    "ar_SA", "ar_AE", "tl_PH", "zu_ZA", "lb_LU", "fr_DZ", "ar_DZ",
)  # fmt: skip
HELD_OUT_2_IDS = {"es_VE", "es_CA", "el_CY", "sr_BA", "mk_MK", "mt_MT", "bn_BD", "tl_PH", "lb_LU", "fr_DZ", "ar_DZ"}
HELD_OUT_2_MIMESIS = {
    "ar-ae": Locale.AR_AE, "ar-sa": Locale.AR_SA, "ar-ma": Locale.AR_MA, "ar-tn": Locale.AR_TN,
    "ar-jo": Locale.AR_JO, "az": Locale.AZ, "en-au": Locale.EN_AU, "en-ca": Locale.EN_CA, "nl-be": Locale.NL_BE,
    "de-ch": Locale.DE_CH,
}  # fmt: skip
# Held out 3: chosen after the fifth round's rules were written (from held-out set 2's misses), before they ran on
# anything, and run once: the generators' last unused locales, other written forms, other look-alike columns.
HELD_OUT_3_FAKER = (
    "am_ET", "ar_AA", "ar_BH", "ar_JO", "ar_PS", "dk_DK", "en_MS", "gu_IN", "ha_NG", "ig_NG", "mr_IN", "or_IN",
    "si_LK", "sw", "tw_GH", "yo_NG",
)  # fmt: skip
HELD_OUT_3_IDS = {"dk_DK"}
HELD_OUT_3_MIMESIS = {
    "ar-dz": Locale.AR_DZ, "ar-kw": Locale.AR_KW, "ar-om": Locale.AR_OM, "ar-qa": Locale.AR_QA,
    "ar-sy": Locale.AR_SY, "ar-ye": Locale.AR_YE,
}  # fmt: skip
HELD_OUT_3_LOOKALIKES = {
    "diamonds": ("cut", "color", "clarity"),
    "economics": ("date",),
    "midwest": ("county",),
    "movielens": ("title", "genres"),
    "salaries": ("rank", "discipline"),
    "cps1985": ("occupation", "sector"),
}
HELD_OUT_2_LOOKALIKES = {
    "msleep": ("name", "genus"),
    "gapminder": ("country", "region"),
    "weather": ("time_hour",),
    "hotel_rates": ("agent", "company", "arrival_date"),
    "ames": ("Neighborhood", "House_Style"),
    "cars93": ("Model", "Manufacturer"),
}


@dataclass(frozen=True)
class LabelledColumn:
    name: str
    label: str | None  # the PII type a correct detector reports; None for a look-alike
    values: list[str]
    source: str  # generator/locale, or the public table
    held_out: bool
    final: bool = False
    group: str = "development"  # or the held-out set it belongs to


def _faker_columns(locale: str, rng: random.Random, held_out: bool, final: bool = False) -> list[LabelledColumn]:
    fake = Faker(locale)
    fake.seed_instance(rng.randrange(1 << 30))
    date_format = DOB_FORMATS.get(locale, "%Y-%m-%d")
    makers: dict[str, Callable[[], str]] = {
        "person_name": fake.name,
        "email": fake.email,
        "phone": fake.phone_number,
        "address": lambda: ", ".join(line.strip() for line in fake.address().splitlines()),
        "date_of_birth": lambda: fake.date_of_birth(minimum_age=18, maximum_age=90).strftime(
            rng.choice([date_format, "%Y-%m-%d"])
        ),
        "account": fake.iban,
    }
    if locale in FAKER_IDS:
        makers["national_id"] = lambda: str(getattr(fake, FAKER_IDS[locale])())
    return [
        LabelledColumn(
            rng.choice(HEADERS[kind]), kind, [make() for _ in range(ROWS)], f"faker/{locale}", held_out, final
        )
        for kind, make in makers.items()
    ]


def _mimesis_columns(code: str, locale: Locale, rng: random.Random) -> list[LabelledColumn]:
    seed = rng.randrange(1 << 30)
    person, address = Person(locale, seed=seed), Address(locale, seed=seed)
    when, payment = Datetime(locale, seed=seed), Payment(seed=seed)
    makers: dict[str, Callable[[], str]] = {
        "person_name": person.full_name,
        "email": person.email,
        "phone": person.phone_number,
        "address": lambda: f"{address.address()}, {address.postal_code()} {address.city()}",
        "date_of_birth": lambda: when.date(start=1940, end=2005).isoformat(),
        "account": payment.credit_card_number,
    }
    return [
        LabelledColumn(rng.choice(HEADERS[kind]), kind, [make() for _ in range(ROWS)], f"mimesis/{code}", True)
        for kind, make in makers.items()
    ]


def _written_form_1(kind: str, value: str, region: str, rng: random.Random) -> str:
    """`value` as another kind of export writes it: E.164, international or RFC 3966 phones; "SURNAME, Given"
    and upper-case names; dates of birth with month names or as 8 digits; IBANs in groups of four; upper-case
    e-mail addresses; address lines joined by " / " or "; " instead of commas."""
    if kind == "phone":
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            return value
        style = rng.choice(
            (phonenumbers.PhoneNumberFormat.E164, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
             phonenumbers.PhoneNumberFormat.RFC3966)
        )  # fmt: skip
        return phonenumbers.format_number(number, style)
    if kind == "person_name":
        words = value.split()
        return value.upper() if rng.random() < 0.5 else f"{words[-1].upper()}, {' '.join(words[:-1])}"
    if kind == "date_of_birth":
        return dt.date.fromisoformat(value).strftime(rng.choice(("%d %b %Y", "%B %d, %Y", "%Y%m%d")))
    if kind == "account":
        compact = value.replace(" ", "")
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    if kind == "email":
        return value.upper()
    if kind == "address":
        return value.replace(", ", rng.choice((" / ", "; ")))
    return value


def _written_form_2(kind: str, value: str, region: str, rng: random.Random) -> str:
    """Forms held-out set 1 did not use: national-format and 00-prefixed phones; "Given SURNAME" and "Surname
    Given" names; dates of birth as 12-Mar-1985, 12/03/85 or Mar 12 1985; "Name <address>" e-mails; IBANs
    labelled "IBAN …"; addresses in capitals."""
    if kind == "phone":
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            return value
        if rng.random() < 0.5:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return f"00{number.country_code} {number.national_number}"
    if kind == "person_name":
        words = value.split()
        if rng.random() < 0.5:
            return " ".join([*words[:-1], words[-1].upper()])
        return " ".join([words[-1], *words[:-1]])
    if kind == "date_of_birth":
        return dt.date.fromisoformat(value).strftime(rng.choice(("%d-%b-%Y", "%d/%m/%y", "%b %d %Y")))
    if kind == "email":
        return f"{value.split('@')[0].replace('.', ' ').title()} <{value}>"
    if kind == "account":
        compact = value.replace(" ", "")
        return "IBAN " + " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    if kind == "address":
        return value.upper()
    return value


def _written_form_3(kind: str, value: str, region: str, rng: random.Random) -> str:
    """Forms neither held-out set used: phones with dots or a slash after the area code; names with a middle
    initial or in lower case (web forms); dates of birth as 1985.03.12 or 12 March 1985; `mailto:` e-mails;
    lower-case IBANs; addresses kept on several lines."""
    if kind == "phone":
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            return value
        digits = str(number.national_number)
        if rng.random() < 0.5:
            return f"+{number.country_code}.{digits[:3]}.{digits[3:6]}.{digits[6:]}"
        return f"0{digits[:3]}/{digits[3:]}"
    if kind == "person_name":
        words = value.split()
        if rng.random() < 0.5 and len(words) >= 2:
            return " ".join([words[0], f"{rng.choice('ABCDEFGHJKLMNPRSTW')}.", *words[1:]])
        return value.lower()
    if kind == "date_of_birth":
        return dt.date.fromisoformat(value).strftime(rng.choice(("%Y.%m.%d", "%d %B %Y")))
    if kind == "email":
        return f"mailto:{value}"
    if kind == "account":
        return value.lower()
    if kind == "address":
        return value.replace(", ", "\n")
    return value


@dataclass(frozen=True)
class HeldOut:
    name: str
    faker_locales: tuple[str, ...]
    faker_ids: set[str]  # of those, the locales whose Faker `ssn` is the country's own
    mimesis_locales: dict[str, Locale]
    written_form: Callable[[str, str, str, random.Random], str]
    lookalikes: dict[str, tuple[str, ...]]
    seed_offset: int


HELD_OUT = {
    "held-out-1": HeldOut(
        "held-out-1", HELD_OUT_1_FAKER, HELD_OUT_1_IDS, HELD_OUT_1_MIMESIS, _written_form_1, HELD_OUT_1_LOOKALIKES, 1
    ),
    "held-out-2": HeldOut(
        "held-out-2", HELD_OUT_2_FAKER, HELD_OUT_2_IDS, HELD_OUT_2_MIMESIS, _written_form_2, HELD_OUT_2_LOOKALIKES, 2
    ),
    "held-out-3": HeldOut(
        "held-out-3", HELD_OUT_3_FAKER, HELD_OUT_3_IDS, HELD_OUT_3_MIMESIS, _written_form_3, HELD_OUT_3_LOOKALIKES, 3
    ),
}


def _held_out_columns(spec: HeldOut, rng: random.Random) -> list[LabelledColumn]:
    """A held-out set: Faker and mimesis in its locales, then each Faker column once more in its written forms."""
    columns = []
    for locale in spec.faker_locales:
        fake = Faker(locale)
        fake.seed_instance(rng.randrange(1 << 30))
        makers: dict[str, Callable[[], str]] = {
            "person_name": fake.name,
            "email": fake.email,
            "phone": lambda f=fake: f.phone_number(),
            "address": lambda f=fake: ", ".join(line.strip() for line in f.address().splitlines()),
            "date_of_birth": lambda f=fake: f.date_of_birth(minimum_age=18, maximum_age=90).isoformat(),
            "account": lambda f=fake: f.iban(),
        }
        if locale in spec.faker_ids:
            makers["national_id"] = lambda f=fake: str(f.ssn())
        # a locale without its own provider for a type (Faker has none for some) gives no column of it
        wanted = {"phone": "phone_number", "account": "iban", "address": "address", "national_id": "ssn"}
        makers = {k: m for k, m in makers.items() if hasattr(fake, wanted.get(k, "name"))}
        region = [*locale.split("_"), "ZZ"][1]  # "sw" names no country: phones stay as written
        for kind, make in makers.items():
            values = [make() for _ in range(ROWS)]
            source = f"faker/{locale}"
            columns.append(LabelledColumn(rng.choice(HEADERS[kind]), kind, values, source, True, group=spec.name))
            if kind != "national_id":
                written = [spec.written_form(kind, v, region, rng) for v in values]
                header = rng.choice(HEADERS[kind])
                columns.append(LabelledColumn(header, kind, written, f"{source} (forms)", True, group=spec.name))
    for code, locale in spec.mimesis_locales.items():
        columns += [replace(c, group=spec.name) for c in _mimesis_columns(code, locale, rng)]
    for table, names in spec.lookalikes.items():
        frame = public.load(table)
        for name in names:
            values = [v for v in frame[name].drop_nulls().to_list() if v.strip()]
            sample = rng.sample(values, min(ROWS, len(values)))
            columns.append(LabelledColumn(name, None, sample, f"public/{table}", True, group=spec.name))
    return columns


def _lookalike_columns(rng: random.Random) -> list[LabelledColumn]:
    columns = []
    for table, names in LOOKALIKES.items():
        frame = public.load(table)
        for name in names:
            values = [v for v in frame[name].drop_nulls().to_list() if v.strip()]
            columns.append(
                LabelledColumn(name, None, rng.sample(values, min(ROWS, len(values))), f"public/{table}", True)
            )
    return columns


def labelled_columns(sets: tuple[str, ...] = ("development", *HELD_OUT), seed: int = 0) -> list[LabelledColumn]:
    rng = random.Random(seed)  # test data: a seeded generator is the point
    columns = [c for locale in DEV_LOCALES for c in _faker_columns(locale, rng, held_out=False)]
    columns += [c for locale in HELD_OUT_LOCALES for c in _faker_columns(locale, rng, held_out=True)]
    columns += [c for code, locale in MIMESIS_LOCALES.items() for c in _mimesis_columns(code, locale, rng)]
    columns += [c for locale in FINAL_LOCALES for c in _faker_columns(locale, rng, held_out=True, final=True)]
    columns += _lookalike_columns(rng)
    if "development" not in sets:
        columns = []
    for name, spec in HELD_OUT.items():
        if name in sets:  # each its own stream: no other set can shift its values
            columns += _held_out_columns(spec, random.Random(seed + spec.seed_offset))
    return columns


_FOUND: dict[int, str | None] = {}  # by column identity: the report reads each verdict twice


def _found(column: LabelledColumn) -> str | None:
    if id(column) not in _FOUND:
        finding = scan_column(column.name, column.values)
        kind = None if finding is None else finding.pii_type
        _FOUND[id(column)] = {"iban": "account", "card_number": "account"}.get(kind, kind)
    return _FOUND[id(column)]


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def _set(column: LabelledColumn) -> str:
    return column.group


def evaluate(columns: list[LabelledColumn]) -> tuple[dict[str, Counts], list[str]]:
    """Counts keyed by "set", "set|type" and "set|type|source", and one line per mistake."""
    counts: dict[str, Counts] = defaultdict(Counts)
    mistakes = []
    for column in columns:
        found, group = _found(column), _set(column)
        if column.label is None and found is None:
            continue
        if column.label is not None and found == column.label:
            for key in (group, f"{group}|{column.label}", f"{group}|{column.label}|{column.source}"):
                counts[key].tp += 1
            continue
        if column.label is not None:
            for key in (group, f"{group}|{column.label}", f"{group}|{column.label}|{column.source}"):
                counts[key].fn += 1
        if found is not None:
            for key in (group, f"{group}|{found}", f"{group}|{found}|{column.source}"):
                counts[key].fp += 1
        example = next((v for v in column.values if v), "")
        mistakes.append(
            f"{group}: {column.source} {column.name!r}: labelled {column.label}, found {found} (e.g. {example!r})"
        )
    return dict(counts), mistakes


def report(columns: list[LabelledColumn], counts: dict[str, Counts], group: str) -> list[str]:
    """Markdown tables for one set: overall, per type, per locale (✓ found with the right type, or the miss)."""
    pii = [c for c in columns if c.label and _set(c) == group]
    lookalikes = [c for c in columns if not c.label and _set(c) == group]
    total = counts.get(group, Counts())
    flagged = [c for c in pii if _found(c) is not None]
    false_alarms = [c for c in lookalikes if _found(c) is not None]
    any_precision = len(flagged) / max(len(flagged) + len(false_alarms), 1)
    lines = [
        f"### {group}: {len(pii)} PII columns, {len(lookalikes)} real look-alike columns, {ROWS} values each",
        "",
        f"right type: precision {total.precision:.3f}, recall {total.recall:.3f}; flagged as PII at all (every "
        f"type is dropped alike): precision {any_precision:.3f}, recall {len(flagged) / max(len(pii), 1):.3f}",
        "",
        "| PII type | columns | precision | recall |",
        "|---|---|---|---|",
    ]
    types = sorted({c.label for c in pii})
    for kind in types:
        c = counts.get(f"{group}|{kind}", Counts())
        lines.append(f"| {kind} | {c.tp + c.fn} | {c.precision:.3f} | {c.recall:.3f} |")
    lines += ["", "| locale (generator) | " + " | ".join(types) + " |", "|---|" + "---|" * len(types)]
    for source in sorted({c.source for c in pii}):
        cells = []
        for kind in types:
            c = counts.get(f"{group}|{kind}|{source}")
            cells.append("" if c is None or c.tp + c.fn == 0 else ("✓" if c.fn == 0 else "miss"))
        lines.append(f"| {source} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str]) -> int:
    sets = tuple(argv) or ("development", *HELD_OUT)
    columns = labelled_columns(sets)
    counts, mistakes = evaluate(columns)
    for group in sets:
        print("\n".join(report(columns, counts, group)) + "\n")
    print("mistakes:" if mistakes else "no mistakes")
    for line in mistakes:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
