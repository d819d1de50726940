"""Adaptive batching of single-row requests on the model call, inside one worker's event loop.

BentoML's own batching could not be used here: a batched call loses each request's headers (the A/B request
key, the request id), and its `max_latency_ms` is a deadline that sheds load as 503s. This batcher is adaptive
instead: the guard counts the /score requests in flight, and the rows waiting for the model are scored as soon
as every request in flight is waiting (so a lone request never waits), when `max_batch_size` rows wait, or at
the latest `max_latency_ms` after the first one arrived. The model runs in a thread, one batch at a time, so
requests that arrive during a model call form the next batch, which starts as soon as the call ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class InFlight:
    """How many requests of one route are between the guard and their answer (one event loop: no lock)."""

    def __init__(self) -> None:
        self.count = 0
        self.on_leave: list[Callable[[], None]] = []

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        for callback in self.on_leave:
            callback()


SCORE_IN_FLIGHT = InFlight()


class RowBatcher:
    """Collects (key, row) pairs; `score_rows(key, rows)` answers one batch of rows that share a key."""

    def __init__(
        self,
        score_rows: Callable[[str, list[dict]], Any],
        max_batch_size: int,
        max_latency_ms: int,
        in_flight: InFlight = SCORE_IN_FLIGHT,
    ) -> None:
        self.score_rows = score_rows
        self.max_batch_size = max_batch_size
        self.max_latency_s = max_latency_ms / 1000
        self.in_flight = in_flight
        self._pending: list[tuple[str, dict, asyncio.Future]] = []
        self._deadline: asyncio.TimerHandle | None = None
        self._running = False
        self._task: asyncio.Task | None = None  # kept so the running batch is not garbage-collected
        in_flight.on_leave.append(self._maybe_flush)

    async def score(self, key: str, row: dict) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((key, row, future))
        if len(self._pending) == 1:
            self._deadline = loop.call_later(self.max_latency_s, self._flush)
        self._maybe_flush()
        return await future

    def _maybe_flush(self) -> None:
        if self._pending and (len(self._pending) >= self.max_batch_size or len(self._pending) >= self.in_flight.count):
            self._flush()

    def _flush(self) -> None:
        """Start a model call with the waiting rows, unless one is running: its end starts the next."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._running or not self._pending:
            return
        batch, self._pending = self._pending[: self.max_batch_size], self._pending[self.max_batch_size :]
        self._running = True
        self._task = asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch: list[tuple[str, dict, asyncio.Future]]) -> None:
        try:
            for key in dict.fromkeys(k for k, _, _ in batch):
                group = [(row, future) for k, row, future in batch if k == key]
                try:
                    # In a thread: the event loop keeps taking requests, which make up the next batch.
                    results = await asyncio.to_thread(self.score_rows, key, [row for row, _ in group])
                except Exception as err:  # every waiting request gets the error, none hangs
                    for _, future in group:
                        if not future.done():
                            future.set_exception(err)
                    continue
                for (_, future), result in zip(group, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._running = False
            self._flush()  # rows that arrived meanwhile have waited one model call: they go now
