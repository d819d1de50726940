"""Demo source: writes raw customer-snapshot CSV drops, one file per day, the way a CRM export would land.

Deterministic for a seed. The records carry PII (name, e-mail, phone), categoricals, numerics, timestamps
and a churn label that depends on the features, plus planted dirt so every refine rule has work to do:
nulls in required columns, exact duplicates, out-of-range numbers, unknown categories, unparseable values
and truncated lines. `DirtReport` says how much of each was planted, so tests can check the pipeline's counts.

This module is the demo world: the one place its column names are written (the demo contract in mlrig.toml
declares the same columns). Product code never names them; it reads names from the contract and the config.
`mlrig generate` under another contract stops at once, naming the columns the demo world writes but it lacks.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.config import Contract

FIRST_NAMES = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Elif",
    "Felix",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Katja",
    "Luca",
    "Marta",
    "Noah",
    "Olga",
    "Paul",
    "Rosa",
    "Sven",
    "Tara",
    "Umut",
    "Vera",
    "Willem",
]
LAST_NAMES = [
    "Müller",
    "Schmidt",
    "Dubois",
    "García",
    "Rossi",
    "de Vries",
    "Kowalski",
    "Andersson",
    "Novak",
    "Lambert",
    "Moreau",
    "Fischer",
    "Ricci",
    "Jansen",
    "Nowak",
    "Lindqvist",
]
COUNTRY_PHONE = {"DE": "+49", "FR": "+33", "ES": "+34", "IT": "+39", "NL": "+31", "PL": "+48", "SE": "+46"}


@dataclass
class DirtReport:
    """How much dirt was planted, per kind: the pipeline must account for every such row."""

    rows_written: int = 0
    duplicates: int = 0
    null_required: int = 0
    out_of_range: int = 0
    unknown_category: int = 0
    unparseable: int = 0
    truncated: int = 0
    files: list[Path | str] = field(default_factory=list)  # str: an object-store URL

    @property
    def bad_rows(self) -> int:
        return self.null_required + self.out_of_range + self.unknown_category + self.unparseable + self.truncated


def churn_probability(
    contract_type, support_calls, tenure, logins, monthly_charges, plan, payment_method
) -> np.ndarray:
    """The demo world's law: how likely a customer is to churn. Raw drops and late outcome labels both follow it."""
    logit = (
        -1.6
        + 1.3 * (contract_type == "monthly")
        - 0.9 * (contract_type == "biennial")
        + 0.35 * support_calls
        - 0.035 * tenure
        - 0.03 * logins
        + 0.012 * (monthly_charges - 40)
        - 0.5 * (plan == "premium")
        + 0.4 * (payment_method == "invoice")
    )
    return 1 / (1 + np.exp(-logit))


def _clean_records(contract: Contract, rows: int, start: dt.date, days: int, rng: np.random.Generator) -> pl.DataFrame:
    allowed = {c.name: list(c.allowed or ()) for c in contract.columns.values() if c.dtype == "category"}
    country = rng.choice(allowed["country"], rows, p=[0.3, 0.2, 0.15, 0.12, 0.1, 0.08, 0.05])
    plan = rng.choice(allowed["plan"], rows, p=[0.5, 0.35, 0.15])
    contract_type = rng.choice(allowed["contract_type"], rows, p=[0.55, 0.35, 0.10])
    payment = rng.choice(allowed["payment_method"], rows, p=[0.45, 0.25, 0.2, 0.1])
    tenure = rng.gamma(2.0, 14.0, rows).astype(int).clip(0, 300)
    base_price = np.select([plan == "basic", plan == "standard"], [19.0, 39.0], 79.0)
    monthly = np.round(base_price * rng.uniform(0.8, 1.4, rows), 2)
    total = np.round(monthly * tenure * rng.uniform(0.9, 1.05, rows), 2)
    calls = rng.poisson(1.2 + 2.5 * (contract_type == "monthly"), rows)
    logins = rng.poisson(np.where(rng.random(rows) < 0.15, 1, 25), rows)
    session = np.round(rng.gamma(2.0, 6.0, rows), 1)

    risk = churn_probability(contract_type, calls, tenure, logins, monthly, plan, payment)
    churned = np.where(rng.random(rows) < risk, "yes", "no")

    day_index = rng.integers(0, days, rows)
    seconds = rng.integers(0, 86_400, rows)
    snapshot = [
        dt.datetime.combine(start + dt.timedelta(days=int(d)), dt.time()) + dt.timedelta(seconds=int(s))
        for d, s in zip(day_index, seconds, strict=True)
    ]
    signup = [
        s - dt.timedelta(days=int(t * 30.4) + int(rng.integers(0, 28))) for s, t in zip(snapshot, tenure, strict=True)
    ]
    first = rng.choice(FIRST_NAMES, rows)
    last = rng.choice(LAST_NAMES, rows)
    ids = rng.choice(np.arange(100_000, 100_000 + rows * 4), rows, replace=False)
    return pl.DataFrame(
        {
            "customer_id": [f"C{i}" for i in ids],
            "full_name": [f"{f} {ln}" for f, ln in zip(first, last, strict=True)],
            "email": [
                f"{f.lower()}.{ln.lower().replace(' ', '')}{i % 997}@example.com"
                for f, ln, i in zip(first, last, ids, strict=True)
            ],
            "phone": [
                f"{COUNTRY_PHONE[c]} {rng.integers(100, 999)} {rng.integers(1_000_000, 9_999_999)}" for c in country
            ],
            "snapshot_at": [s.isoformat(timespec="seconds") for s in snapshot],
            "signup_at": [s.isoformat(timespec="seconds") for s in signup],
            "country": country,
            "plan": plan,
            "contract_type": contract_type,
            "payment_method": payment,
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": np.where(tenure == 0, None, total).tolist(),
            "support_calls_90d": calls,
            "logins_30d": logins,
            "avg_session_minutes": np.where(logins == 0, None, session).tolist(),
            "churned": churned,
            "_day": day_index,
        }
    )


def _plant_dirt(
    rows: list[list[str]], header: list[str], rng: np.random.Generator, rate: float, report: DirtReport
) -> list[list[str]]:
    """Spoil a `rate` share of rows, one kind of dirt each, and duplicate another share."""
    col = {name: i for i, name in enumerate(header)}
    spoiled = rng.choice(len(rows), int(len(rows) * rate), replace=False)
    for k, idx in enumerate(spoiled):
        row = rows[idx]
        kind = k % 5
        if kind == 0:
            row[col["country"]] = ""
            report.null_required += 1
        elif kind == 1:
            row[col["tenure_months"]] = str(int(rng.integers(700, 9_999)))
            report.out_of_range += 1
        elif kind == 2:
            row[col["plan"]] = "platinum"
            report.unknown_category += 1
        elif kind == 3:
            row[col["monthly_charges"]] = "n/a"
            report.unparseable += 1
        else:
            rows[idx] = row[: len(row) // 2]
            report.truncated += 1
    spoiled_set = set(spoiled.tolist())
    clean = [i for i in range(len(rows)) if i not in spoiled_set]
    dupes = rng.choice(clean, max(1, int(len(rows) * rate / 2)), replace=False)
    report.duplicates += len(dupes)
    out = rows + [list(rows[i]) for i in dupes]
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def generate_raw_drops(
    contract: Contract,
    out_dir: Path,
    rows: int = 20_000,
    days: int = 4,
    seed: int = 7,
    dirt_rate: float = 0.02,
    start: dt.date = dt.date(2026, 11, 1),
) -> DirtReport:
    """Write `days` CSV drops holding `rows` records in total (plus planted duplicates) into `out_dir`."""
    rng = np.random.default_rng(seed)
    records = _clean_records(_require_demo_contract(contract), rows, start, days, rng)
    header = list(contract.columns)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = DirtReport()
    for day in range(days):
        part = records.filter(pl.col("_day") == day).select(header)
        as_text = [["" if v is None else str(v) for v in r] for r in part.iter_rows()]
        dirty = _plant_dirt(as_text, header, rng, dirt_rate, report)
        path = out_dir / f"{contract.dataset}_{start + dt.timedelta(days=day)}.csv"
        tmp = path.with_suffix(".csv.partial")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(dirty)
        tmp.replace(path)  # a reader never sees half a drop
        report.rows_written += len(dirty)
        report.files.append(path)
    return report


class DemoContractError(ValueError):
    """The contract is not the demo's: the demo world cannot write its records."""


DEMO_CATEGORIES = ("country", "plan", "contract_type", "payment_method")  # values come from the contract's lists


def _require_demo_contract(contract: Contract) -> Contract:
    missing = [c for c in DEMO_CATEGORIES if c not in contract.columns or not contract.columns[c].allowed]
    if missing:
        raise DemoContractError(
            f"`mlrig generate` writes the demo's churn data, but this contract ({contract.dataset}) has no "
            f"categorical column(s) {', '.join(missing)}: generate with the demo's mlrig.toml, or bring your own "
            "files (`mlrig init`)."
        )
    return contract


def outcome_labels(predictions: pl.DataFrame, request_key: str, seed: int = 13) -> pl.DataFrame:
    """Ground truth arriving after the fact for logged predictions: whether each customer really churned,
    drawn from the same law as the training data. What a CRM would send back a month later."""
    rng = np.random.default_rng(seed)
    columns = (
        "contract_type",
        "support_calls_90d",
        "tenure_months",
        "logins_30d",
        "monthly_charges",
        "plan",
        "payment_method",
    )
    risk = churn_probability(*(predictions[c].to_numpy() for c in columns))
    return pl.DataFrame({request_key: predictions[request_key], "label": (rng.random(len(risk)) < risk).astype(int)})
