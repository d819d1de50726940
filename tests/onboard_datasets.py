"""Datasets of other shapes than the demo, for `mlrig init` and the bring-your-own-data runs.

Each writes real files the way another source would: other column names and types, other delimiters and
encodings, Parquet and NDJSON, missing values in optional columns, imbalanced targets.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from pathlib import Path

import polars as pl
from stdnum import iban, luhn


def _iban(rng: random.Random) -> str:
    account = "".join(rng.choices(string.digits, k=18))
    return "DE" + iban.calc_check_digits("DE00" + account) + account


def _card(rng: random.Random) -> str:
    body = "4" + "".join(rng.choices(string.digits, k=14))
    return body + luhn.calc_check_digit(body)


def loans(rows: int = 1500, seed: int = 1) -> pl.DataFrame:
    """Loan applications: a 0/1 target with ~12 % positives, an IBAN, a name, accented text, a date."""
    rng = random.Random(seed)  # test data
    out = []
    for i in range(rows):
        income = round(rng.lognormvariate(10.5, 0.5), 2)
        amount = round(rng.uniform(1_000, 60_000), 2)
        term = rng.choice([12, 24, 36, 60])
        purpose = rng.choice(["car", "home", "education", "consolidation", "voyage d'été"])
        risk = 0.05 + 0.25 * (amount / income > 0.5) + 0.05 * (term == 60)
        out.append(
            {
                "application_id": f"A-{100000 + i}",
                "applicant": f"{rng.choice(['Zoé', 'Émile', 'Jürgen', 'Ana'])} "
                f"{rng.choice(['Lefèvre', 'Groß', 'Núñez', 'Smith'])}",
                "account_iban": _iban(rng),
                "annual_income": income,
                "loan_amount": amount,
                "term_months": term,
                "purpose": purpose,
                "applied_on": (dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 300))).isoformat(),
                "employment_years": None if rng.random() < 0.15 else rng.randint(0, 30),
                "defaulted": int(rng.random() < risk),
            }
        )
    return pl.DataFrame(out)


def transactions(rows: int = 1500, seed: int = 2) -> pl.DataFrame:
    """Card transactions: a true/false target with ~8 % fraud, card numbers, IP addresses, timestamps."""
    rng = random.Random(seed)  # test data
    out = []
    for i in range(rows):
        amount = round(rng.expovariate(1 / 60), 2)
        foreign = rng.random() < 0.2
        fraud = rng.random() < 0.03 + 0.2 * foreign * (amount > 100)
        out.append(
            {
                "txn_id": i + 1,
                "card": _card(rng),
                "client_ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                "amount_eur": amount,
                "merchant_category": rng.choice(["grocery", "fuel", "travel", "electronics", "online"]),
                "foreign": "yes" if foreign else "no",
                "hour": rng.randint(0, 23),
                "booked_at": dt.datetime(2026, 10, 1) + dt.timedelta(minutes=rng.randint(0, 40_000)),
                "is_fraud": "true" if fraud else "false",
            }
        )
    return pl.DataFrame(out)


def write_loans_csv(directory: Path) -> Path:
    """Semicolon-delimited, Windows-1252 encoded, the way a European spreadsheet export arrives."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "loans_2026-11-01.csv"
    text = loans().write_csv(separator=";")
    path.write_bytes(text.encode("cp1252"))
    return path


def write_transactions_parquet(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "transactions_2026-11-01.parquet"
    transactions().write_parquet(path)
    return path


def write_transactions_ndjson_drops(directory: Path, days: int = 3) -> list[Path]:
    """A folder of daily NDJSON drops with a UTF-8 BOM-free encoding and rows split across days."""
    directory.mkdir(parents=True, exist_ok=True)
    frame = transactions().with_columns(pl.col("booked_at").dt.to_string("%Y-%m-%dT%H:%M:%S"))
    paths = []
    for day in range(days):
        path = directory / f"transactions_2026-11-0{day + 1}.ndjson"
        frame.gather_every(days, offset=day).write_ndjson(path)
        paths.append(path)
    return paths
