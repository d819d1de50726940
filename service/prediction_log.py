"""The prediction log: every answer the service gives (and every shadow answer) → lake `predictions/<dataset>`.

Drift monitoring reads this table. A request only puts a row on an in-memory queue; a background thread
appends the queue to the Delta table in batches (every `log_flush_rows` rows or `log_flush_s` seconds), so
logging never blocks a response. `close()` flushes what is left; the service calls it on shutdown. Inputs
pass the contract's PII rule: a column marked `pii` never reaches the log.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from typing import Any

import polars as pl

from pipelines.config import Config, Contract
from pipelines.lake import Lake, TableRef

logger = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 30  # how long shutdown waits for the last batch to reach the lake
QUEUE_LIMIT = 100_000  # beyond this the writer cannot keep up: drop rows (counted) rather than grow memory


def predictions_table(config: Config) -> TableRef:
    return Lake(config.lake_url).table("predictions", config.contract.dataset)


_POLARS_TYPES = {"int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean, "string": pl.String, "category": pl.String}
OUTCOME_SCHEMA = {
    "request_id": pl.String,
    "request_key": pl.String,  # X-Request-Key, keyed-hashed like silver's entity key: outcomes join on it
    "endpoint": pl.String,
    "variant": pl.String,
    "shadow": pl.Boolean,
    "model_version": pl.String,
    "probability": pl.Float64,
    "prediction": pl.String,
    "latency_ms": pl.Float64,
    "logged_at": pl.Datetime("us", "UTC"),
}


def log_schema(contract: Contract) -> dict[str, pl.DataType]:
    """The table's columns: the outcome, then every non-PII feature typed as the contract says (so an all-null
    batch still appends)."""
    features = {c.name: _POLARS_TYPES[c.dtype] for c in contract.features if not c.pii}
    return {**OUTCOME_SCHEMA, **features}


def loggable_inputs(contract: Contract, record: dict[str, Any]) -> dict[str, Any]:
    """The request's inputs without any column the contract marks as PII (whatever it is named in the request)."""
    return {k: v for k, v in record.items() if not (k in contract.columns and contract.columns[k].pii)}


class PredictionLog:
    """A queue drained into the predictions table by one daemon thread."""

    def __init__(self, table: TableRef, schema: dict[str, Any], flush_rows: int, flush_s: float) -> None:
        self.table = table
        self.schema = schema
        self.flush_rows = flush_rows
        self.flush_s = flush_s
        self.dropped = 0
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def append(self, row: dict[str, Any]) -> None:
        """Queue one row; never blocks the caller."""
        try:
            self._queue.put_nowait({**row, "logged_at": dt.datetime.now(dt.UTC)})
        except queue.Full:
            self.dropped += 1

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Stop the writer after it has written every queued row."""
        self._closed.set()
        self._thread.join(timeout_s)

    def _take(self) -> list[dict[str, Any]]:
        """Up to flush_rows rows, waiting at most flush_s for them (less once closing)."""
        rows: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.flush_s
        while len(rows) < self.flush_rows and not self._closed.is_set() and time.monotonic() < deadline:
            try:
                rows.append(self._queue.get(timeout=0.1))  # short waits so close() is not held up
            except queue.Empty:
                continue
        while len(rows) < self.flush_rows:
            try:
                rows.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return rows

    def _run(self) -> None:
        while not (self._closed.is_set() and self._queue.empty()):
            rows = self._take()
            if rows:
                self._write(rows)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            self.table.write(pl.DataFrame(rows, schema=self.schema), mode="append")
        except Exception:  # a lake outage must not take the service down; the rows are lost, and said so
            logger.exception("prediction log: could not append %d rows to %s", len(rows), self.table.label)
