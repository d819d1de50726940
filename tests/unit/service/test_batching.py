from __future__ import annotations

import asyncio

import pytest

from service.batching import InFlight, RowBatcher


def run(coro):
    return asyncio.run(coro)


class Model:
    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail_on = fail_on

    def __call__(self, key: str, rows: list[dict]) -> list[float]:
        self.calls.append((key, len(rows)))
        if key == self.fail_on:
            raise ValueError("model failed")
        return [row["x"] * 2 for row in rows]


def test_a_lone_request_is_scored_at_once():
    async def main():
        in_flight, model = InFlight(), Model()
        in_flight.enter()
        batcher = RowBatcher(model, max_batch_size=64, max_latency_ms=10_000, in_flight=in_flight)
        return await asyncio.wait_for(batcher.score("a", {"x": 1}), 1), model.calls

    assert run(main()) == (2, [("a", 1)])


def test_concurrent_requests_share_one_model_call_per_variant():
    async def main():
        in_flight, model = InFlight(), Model()
        batcher = RowBatcher(model, max_batch_size=64, max_latency_ms=10_000, in_flight=in_flight)
        for _ in range(10):
            in_flight.enter()
        results = await asyncio.gather(*(batcher.score("ab"[i % 2], {"x": i}) for i in range(10)))
        return results, model.calls

    results, calls = run(main())
    assert results == [i * 2 for i in range(10)]
    assert sorted(calls) == [("a", 5), ("b", 5)]


def test_full_batch_goes_without_waiting_for_the_rest():
    async def main():
        in_flight, model = InFlight(), Model()
        batcher = RowBatcher(model, max_batch_size=4, max_latency_ms=10_000, in_flight=in_flight)
        for _ in range(100):
            in_flight.enter()
        return await asyncio.gather(*(batcher.score("a", {"x": i}) for i in range(8))), model.calls

    assert run(main())[1] == [("a", 4), ("a", 4)]


def test_deadline_bounds_the_wait_when_others_are_still_in_flight():
    async def main():
        in_flight, model = InFlight(), Model()
        batcher = RowBatcher(model, max_batch_size=64, max_latency_ms=20, in_flight=in_flight)
        for _ in range(5):
            in_flight.enter()
        return await asyncio.wait_for(batcher.score("a", {"x": 3}), 1)

    assert run(main()) == 6


def test_a_request_leaving_releases_the_waiting_batch():
    async def main():
        in_flight, model = InFlight(), Model()
        batcher = RowBatcher(model, max_batch_size=64, max_latency_ms=10_000, in_flight=in_flight)
        in_flight.enter()
        in_flight.enter()  # a request refused before reaching the batcher
        waiting = asyncio.ensure_future(batcher.score("a", {"x": 1}))
        await asyncio.sleep(0)
        assert not waiting.done()
        in_flight.leave()
        return await asyncio.wait_for(waiting, 1)

    assert run(main()) == 2


def test_a_failing_model_call_fails_its_requests_only():
    async def main():
        in_flight, model = InFlight(), Model(fail_on="b")
        batcher = RowBatcher(model, max_batch_size=64, max_latency_ms=10_000, in_flight=in_flight)
        in_flight.enter()
        in_flight.enter()
        return await asyncio.gather(batcher.score("a", {"x": 1}), batcher.score("b", {"x": 1}), return_exceptions=True)

    good, bad = run(main())
    assert good == 2
    assert isinstance(bad, ValueError)


@pytest.mark.parametrize("size", [1, 3])
def test_in_flight_counts(size):
    counter = InFlight()
    for _ in range(size):
        counter.enter()
    counter.leave()
    assert counter.count == size - 1
