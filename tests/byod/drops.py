"""A public table exported as a real export arrives: three daily CSV drops, contact columns, ordinary dirt.

Contact columns come from Faker (an independent generator) across several locales per dataset: names, e-mail
addresses, phone numbers with extensions and international prefixes, full postal addresses, dates of birth,
national ids and bank accounts, as the dataset's spec asks. Dirt is planted in about 1.5 % of the rows, one kind
per dirty row, and recorded: a bad target value, a truncated record, an out-of-range number, a mistyped category
value, text in a numeric column. A few clean rows are exported again in a later drop (whole-row duplicates).
`Truth` says how many rows refine must quarantine and drop as duplicates, and every PII value planted.

What is not planted, and why: a wrong value that looks valid (a state code `ZZ` among real two-letter codes, an
income of 12,000 typed as 21,000) cannot be told from data by any rule; only a reference list or the source can.
Typos are therefore planted in category values of four characters or more, or as case variants; an
out-of-range number (a sign slip, ×1000, a 99999999 sentinel) in a column most of whose values are positive, since a
sparse column's real tail (a few large late payments among zeros) has jumps as big as a slip.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from faker import Faker

DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")
BAD_TARGETS = ("", "N0", "t", "ZZ", "INVALID", "?")
PLACEHOLDERS = ("N/A", "#N/A", "?", "unknown", "INVALID", "-")
NOT_NUMBERS = ("#VALUE!", "n.a.", "12,5,0", "abc", "1.2.3")
DIRT_KINDS = ("bad_target", "truncated", "out_of_range", "bad_category", "not_a_number")


@dataclass(frozen=True)
class ContactColumns:
    """Which contact columns a dataset carries, under which header (None: not carried)."""

    name: str | None = "full_name"
    email: str | None = "email"
    phone: str | None = "phone"
    address: str | None = "address"
    date_of_birth: str | None = None
    national_id: str | None = None  # generated in `id_locale`
    account: str | None = None  # an IBAN


@dataclass(frozen=True)
class DropSpec:
    name: str  # the drops' file stem and the dataset's name
    source: str  # tests.byod.public table
    target: str
    locales: tuple[str, ...]
    contacts: ContactColumns = ContactColumns()
    key: str | None = None  # a unique customer number column added to the export
    id_locale: str = "en_US"
    seed: int = 0
    separator: str = ","
    bom: bool = False  # Excel's "CSV UTF-8" writes one
    crlf: bool = False
    dirt_share: float = 0.015
    duplicate_share: float = 0.005


@dataclass
class Truth:
    files: list[Path]
    quarantined: dict[str, int]  # dirt kind → rows
    duplicates: int
    pii: dict[str, list[str]] = field(default_factory=dict)  # column → planted values
    clean_rows: int = 0
    planted: list[str] = field(default_factory=list)  # one line per dirty row, to read when a count is off

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def pii_values(self) -> set[str]:
        return {v for values in self.pii.values() for v in values if v}


def _national_id(fake: Faker, locale: str) -> str:
    """The locale's own identifier where Faker has one (not its US-format fallback)."""
    own = {"pl_PL": "pesel", "pt_BR": "cpf", "es_ES": "nif", "en_IN": "aadhaar_id", "cs_CZ": "birth_number"}
    return str(getattr(fake, own.get(locale, "ssn"))())


def _contacts(spec: DropSpec, rows: int, rng: random.Random) -> dict[str, list[str]]:
    fakers = [Faker(locale) for locale in spec.locales]
    for number, fake in enumerate(fakers):
        fake.seed_instance(spec.seed * 100 + number)
    id_faker = Faker(spec.id_locale)
    id_faker.seed_instance(spec.seed)
    c = spec.contacts
    columns: dict[str, list[str]] = {k: [] for k in (c.name, c.email, c.phone, c.address) if k}
    columns |= {k: [] for k in (c.date_of_birth, c.national_id, c.account) if k}
    for _ in range(rows):
        fake = rng.choice(fakers)
        if c.name:
            columns[c.name].append(fake.name())
        if c.email:
            columns[c.email].append(fake.email())
        if c.phone:
            columns[c.phone].append(fake.phone_number())
        if c.address:
            columns[c.address].append(", ".join(line.strip() for line in fake.address().splitlines()))
        if c.date_of_birth:
            columns[c.date_of_birth].append(fake.date_of_birth(minimum_age=18, maximum_age=90).isoformat())
        if c.national_id:
            columns[c.national_id].append(_national_id(id_faker, spec.id_locale))
        if c.account:
            columns[c.account].append(fake.iban())
    return columns


def _numeric(frame: pl.DataFrame, column: str) -> bool:
    values = frame[column].drop_nulls()
    return values.len() > 0 and values.cast(pl.Float64, strict=False).is_not_null().mean() >= 0.99


def _categorical(frame: pl.DataFrame, column: str) -> bool:
    return not _numeric(frame, column) and frame[column].n_unique() <= 60


def _typo(value: str, rng: random.Random) -> str:
    """A mistyped category value: a case variant, a dropped or doubled letter. (Surrounding spaces are not dirt:
    refine strips them, as init does.)"""
    kind = rng.choice(("case", "drop", "double"))
    if kind == "case":
        return value.upper() if value != value.upper() else value.lower()
    at = rng.randrange(1, len(value))
    return value[:at] + value[at + 1 :] if kind == "drop" else value[:at] + value[at] + value[at:]


def _out_of_range(value: str, rng: random.Random) -> str:
    number = float(value)
    kind = rng.choice(("negative", "unit", "sentinel")) if number > 0 else "sentinel"
    if kind == "negative":
        out = -number
    elif kind == "unit":
        out = number * 1000
    else:
        out = 99_999_999
    return str(int(out)) if value.lstrip("-").isdigit() else f"{out:.2f}"


@dataclass(frozen=True)
class ColumnKinds:
    """Which of a table's feature columns can carry which dirt, judged once per table."""

    numeric: list[str]
    dense: list[str]  # numeric, mostly positive: a slip is detectable only there (a sparse tail has 10× jumps)
    categorical: list[str]

    @classmethod
    def of(cls, frame: pl.DataFrame, target: str) -> ColumnKinds:
        features = [c for c in frame.columns if c != target]
        numeric = [c for c in features if _numeric(frame, c)]
        dense = [c for c in numeric if frame[c].cast(pl.Float64, strict=False).gt(0).mean() >= 0.5]
        return cls(numeric, dense, [c for c in features if _categorical(frame, c)])


def _dirty(row: dict, kind: str, spec: DropSpec, kinds: ColumnKinds, rng: random.Random) -> dict | None:
    """The row with one planted error of `kind` (None when this row cannot carry it)."""
    numeric = [c for c in kinds.numeric if row[c] not in (None, "")]
    dense = [c for c in kinds.dense if c in numeric and float(row[c]) > 0]
    categories = [c for c in kinds.categorical if row[c] and len(row[c]) >= 4]
    row = dict(row)
    column = spec.target
    if kind == "bad_target":
        row[spec.target] = rng.choice(BAD_TARGETS)
    elif kind == "out_of_range" and dense:
        column = rng.choice(dense)
        row[column] = _out_of_range(row[column], rng)
    elif kind == "not_a_number" and numeric:
        column = rng.choice(numeric)
        row[column] = rng.choice(NOT_NUMBERS)
    elif kind == "bad_category" and categories:
        column = rng.choice(categories)
        row[column] = rng.choice([_typo(row[column], rng), rng.choice(PLACEHOLDERS)])
    elif kind == "truncated":
        row["__truncate"] = True
    else:
        return None
    row["__planted"] = f"{kind}: {column} = {row[column]!r}"
    return row


def _csv_lines(rows: list[dict], columns: list[str], spec: DropSpec) -> list[str]:
    """CSV text per row; a truncated record stops after a random number of fields, mid-export."""
    lines = []
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=spec.separator, lineterminator="")  # quotes what needs it, as Excel does
    for row in rows:
        kept = columns[: max(2, len(columns) // 3)] if row.get("__truncate") else columns
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if row[c] is None else row[c] for c in kept])
        lines.append(buffer.getvalue())
    return lines


def export_drops(spec: DropSpec, table: pl.DataFrame, folder: Path) -> Truth:
    """Write every row of `table` as three daily drops into `folder`; return what was planted."""
    rng = random.Random(spec.seed)  # test data: a seeded generator is the point
    frame = table.sample(fraction=1.0, seed=spec.seed, shuffle=True)  # every real row, in an export's order
    frame = frame.select([c for c in frame.columns if c != spec.target] + [spec.target])  # the target last
    contacts = _contacts(spec, frame.height, rng)
    if spec.key:
        contacts = {spec.key: [f"C{rng.randrange(10**7, 10**8)}-{i:05d}" for i in range(frame.height)], **contacts}
    exported = pl.DataFrame(contacts).hstack(frame)
    rows = exported.to_dicts()
    dirty_count = max(len(DIRT_KINDS), round(spec.dirt_share * len(rows)))
    dirty_at = rng.sample(range(len(rows)), dirty_count)
    quarantined = dict.fromkeys(DIRT_KINDS, 0)
    kinds = ColumnKinds.of(frame, spec.target)
    for number, index in enumerate(dirty_at):
        for attempt in range(len(DIRT_KINDS)):
            kind = DIRT_KINDS[(number + attempt) % len(DIRT_KINDS)]
            dirty = _dirty(rows[index], kind, spec, kinds, rng)
            if dirty is not None:
                rows[index] = dirty
                quarantined[kind] += 1
                break
    clean = [i for i in range(len(rows)) if i not in set(dirty_at)]
    per_day = [list(range(len(rows)))[d :: len(DAYS)] for d in range(len(DAYS))]
    duplicates = max(2, round(spec.duplicate_share * len(rows)))
    earlier = set(per_day[0]) | set(per_day[1])
    per_day[2] += rng.sample([i for i in clean if i in earlier], duplicates)  # exported again on the last day
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    header = spec.separator.join(exported.columns)
    for day, indices in zip(DAYS, per_day, strict=True):
        path = folder / f"{spec.name}_{day}.csv"
        newline = "\r\n" if spec.crlf else "\n"
        text = newline.join([header, *_csv_lines([rows[i] for i in indices], exported.columns, spec)]) + newline
        path.write_bytes(("\ufeff" if spec.bom else "").encode() + text.encode("utf-8"))
        files.append(path)
    pii = dict(contacts.items())
    planted = [rows[i]["__planted"] for i in dirty_at if "__planted" in rows[i]]
    return Truth(files, quarantined, duplicates, pii, len(rows) - dirty_count, planted)


# The three public datasets as three businesses would export them.
SPECS = {
    "telecom_churn": DropSpec(
        name="telecom_customers",
        source="telecom_churn",
        target="churn",
        locales=("en_US", "en_US", "en_CA", "es_MX"),
        contacts=ContactColumns(name="customer_name", email="email", phone="phone", address="billing_address"),
        seed=11,
    ),
    "credit_scoring": DropSpec(
        name="credit_applications",
        source="credit_scoring",
        target="Status",
        locales=("es_ES", "de_DE", "fr_FR", "it_IT", "pl_PL"),
        contacts=ContactColumns(
            name="Applicant",
            email="E-Mail",
            phone="Telefon",
            address="Anschrift",
            date_of_birth="birth_date",
            national_id="national_id",
        ),
        key="application_no",
        id_locale="es_ES",
        seed=12,
        separator=";",
        bom=True,
    ),
    "lending": DropSpec(
        name="loan_book",
        source="lending",
        target="Class",
        locales=("en_US", "en_GB", "nl_NL", "sv_SE", "pt_BR", "en_IN"),
        contacts=ContactColumns(
            name="borrower",
            email="contact_email",
            phone="mobile",
            address="home_address",
            account="payout_iban",
            national_id="ssn",
        ),
        key="loan_id",
        seed=13,
        crlf=True,
    ),
}


# A public regression table as a jeweller's sales ledger would be exported: the price each stone sold for.
REGRESSION_SPECS = {
    "diamonds": DropSpec(
        name="diamond_sales",
        source="diamonds",
        target="price",
        locales=("en_US", "en_GB", "nl_NL", "de_DE"),
        contacts=ContactColumns(name="buyer", email="buyer_email", phone="buyer_phone", address="delivery_address"),
        key="sale_id",
        seed=14,
    ),
}
