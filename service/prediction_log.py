"""The prediction log: every answer the service gives (and every shadow answer) → lake `predictions/<dataset>`.

Drift monitoring reads this table. A request only appends one block (its rows as columns: a list per column,
or one value shared by every row) to an in-memory queue; a background thread turns the queued blocks into one
Delta append every `log_flush_rows` rows or `log_flush_s` seconds, so logging never blocks a response and a
256-row batch costs one append, not 256. `close()` flushes what is left; the service calls it on shutdown.
Inputs pass the contract's PII rule: a column marked `pii` never reaches the log.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time
from typing import Any

import polars as pl

from pipelines.config import Config, Contract
from pipelines.lake import Lake, TableRef
from pipelines.tasks import get_task

logger = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 30  # how long shutdown waits for the last batch to reach the lake
QUEUE_LIMIT = 100_000  # rows; beyond this the writer cannot keep up: drop rows (counted) rather than grow memory
POLL_S = 0.05  # how often the writer looks at the queue


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
    "latency_ms": pl.Float64,
    "logged_at": pl.Datetime("us", "UTC"),
}


def log_schema(contract: Contract) -> dict[str, pl.DataType]:
    """The table's columns: the request's outcome, the answer as the task logs it (binary: probability and decision;
    regression: the value), then every non-PII feature typed as the contract says (so an all-null batch still
    appends)."""
    features = {c.name: _POLARS_TYPES[c.dtype] for c in contract.features if not c.pii}
    request = dict(OUTCOME_SCHEMA)
    after = {name: request.pop(name) for name in ("latency_ms", "logged_at")}  # the columns' order as before tasks
    return {**request, **get_task(contract.task).logged, **after, **features}


def loggable_features(contract: Contract) -> tuple[str, ...]:
    """The request fields the log keeps: every feature the contract does not mark as PII."""
    return tuple(c.name for c in contract.features if not c.pii)


class PredictionLog:
    """A queue of column blocks drained into the predictions table by one daemon thread."""

    def __init__(self, table: TableRef, schema: dict[str, Any], flush_rows: int, flush_s: float) -> None:
        self.table = table
        self.schema = schema
        self.flush_rows = flush_rows
        self.flush_s = flush_s
        self.dropped = 0
        self._blocks: collections.deque[tuple[int, dict[str, Any]]] = collections.deque()  # thread-safe ends
        self._queued = 0  # rows appended: written by the serving thread only
        self._taken = 0  # rows taken: written by the writer thread only
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def append(self, rows: int, columns: dict[str, Any]) -> None:
        """Queue `rows` rows: each column a list of `rows` values, or one value every row shares. Never blocks."""
        if self._queued - self._taken + rows > QUEUE_LIMIT:
            self.dropped += rows
            return
        columns["logged_at"] = time.time()
        self._blocks.append((rows, columns))
        self._queued += rows

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Stop the writer after it has written every queued row."""
        self._closed.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        oldest = time.monotonic()
        while True:
            closing = self._closed.is_set()
            pending = self._queued - self._taken
            if pending and (closing or pending >= self.flush_rows or time.monotonic() - oldest >= self.flush_s):
                self._write(self._take())
                oldest = time.monotonic()
            elif closing:
                return
            else:
                if not pending:
                    oldest = time.monotonic()
                self._closed.wait(POLL_S)

    def _take(self) -> list[tuple[int, dict[str, Any]]]:
        """Blocks up to about flush_rows rows (a block is never split)."""
        blocks: list[tuple[int, dict[str, Any]]] = []
        rows = 0
        while self._blocks and rows < self.flush_rows:
            block = self._blocks.popleft()
            blocks.append(block)
            rows += block[0]
        self._taken += rows
        return blocks

    def _frame(self, blocks: list[tuple[int, dict[str, Any]]]) -> pl.DataFrame:
        data: dict[str, list[Any]] = {name: [] for name in self.schema}
        for rows, block in blocks:
            columns = {**block, "logged_at": dt.datetime.fromtimestamp(block["logged_at"], dt.UTC)}
            for name, values in data.items():
                value = columns.get(name)
                if isinstance(value, list):
                    values.extend(value)
                else:
                    values.extend([value] * rows)
        return pl.DataFrame(data, schema=self.schema)

    def _write(self, blocks: list[tuple[int, dict[str, Any]]]) -> None:
        rows = sum(n for n, _ in blocks)
        try:
            self.table.write(self._frame(blocks), mode="append")
        except Exception:  # a lake outage must not take the service down; the rows are lost, and said so
            logger.exception("prediction log: could not append %d rows to %s", rows, self.table.label)
