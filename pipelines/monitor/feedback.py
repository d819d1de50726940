"""The demo's feedback loop: live traffic → prediction log → late labels → monitoring, in one minute.

Two thirds of the traffic come from after a planted price rise (monthly charges up 50 %: PSI ≈ 0.4, KS ≈ 0.2
on the demo data, clear of the limits), so the drift report has something real to find; labels are drawn from
the demo's own churn law.
"""

from __future__ import annotations

import time

import httpx
import polars as pl
from rich.console import Console

from pipelines.config import Config
from pipelines.data.features import features_table_name
from pipelines.lake import Lake
from pipelines.ml.registry import fetch_serving
from pipelines.monitor.outcomes import REQUEST_KEY
from pipelines.monitor.run import MonitorResult, monitor, record_outcomes, served_window
from pipelines.monitor.summary import print_result

PRICE_RISE = 1.5
AFTER_RISE_SHARE = 2 / 3


def demo_traffic(config: Config, rows: int) -> pl.DataFrame:
    """Gold records to replay; the last two thirds after the price rise (clipped to the contract's bound)."""
    gold = Lake(config.lake_url).table("gold", features_table_name(config.contract))
    records = gold.scan().select(config.contract.feature_names).tail(rows).collect()
    ceiling = config.contract.columns["monthly_charges"].max
    risen = pl.int_range(pl.len()) >= int(rows * (1 - AFTER_RISE_SHARE))
    return records.with_columns(
        pl.when(risen)
        .then((pl.col("monthly_charges") * PRICE_RISE).round(2).clip(upper_bound=ceiling))
        .otherwise(pl.col("monthly_charges"))
        .alias("monthly_charges")
    )


def send_traffic(base_url: str, records: pl.DataFrame, headers: dict[str, str] | None = None) -> int:
    answered = 0
    with httpx.Client(base_url=base_url, timeout=30, headers=headers or {}) as client:
        for index, record in enumerate(records.iter_rows(named=True)):
            response = client.post("/score", json=record, headers={"x-request-key": f"demo-customer-{index}"})
            answered += response.status_code == 200
    return answered


def wait_for_log(config: Config, rows: int, timeout_s: float = 60) -> int:
    """The service writes its log in background batches: wait until `rows` keyed predictions have landed."""
    deadline, logged = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline:
        table = Lake(config.lake_url).table("predictions", config.contract.dataset)
        if table.exists():
            logged = table.scan().filter(pl.col(REQUEST_KEY).is_not_null()).select(pl.len()).collect().item()
            if logged >= rows:
                break
        time.sleep(0.5)
    return logged


def feedback_demo(config: Config, base_url: str, console: Console, rows: int = 600) -> MonitorResult:
    from pipelines.demo import outcome_labels

    with console.status(f"replaying {rows} customers ({AFTER_RISE_SHARE:.0%} after a {PRICE_RISE - 1:.0%} price rise)"):
        answered = send_traffic(base_url, demo_traffic(config, rows))
        logged = wait_for_log(config, answered)
    window = served_window(config, hours=None).filter(pl.col(REQUEST_KEY).is_not_null())
    labelled = record_outcomes(config, outcome_labels(window, REQUEST_KEY))
    console.print(f"feedback: {answered} predictions served, {logged} logged, {labelled} outcomes came back")
    result = monitor(config, fetch_serving(config))  # ChampionError: the caller says what to do
    print_result(result, console)
    return result
