from __future__ import annotations

import time

import polars as pl

from service.prediction_log import PredictionLog, log_schema, loggable_inputs, predictions_table
from service.schema import example_request


def row(contract, i: int) -> dict:
    return {
        **example_request(contract),
        "request_id": f"r{i}",
        "endpoint": "/score",
        "variant": "a",
        "shadow": False,
        "model_version": "m:1",
        "probability": 0.5,
        "prediction": "no",
        "latency_ms": 1.0,
    }


def test_pii_columns_never_reach_the_log(contract):
    pii = {c.name: "secret" for c in contract.pii_columns}
    assert pii
    assert loggable_inputs(contract, {**example_request(contract), **pii}) == example_request(contract)


def test_rows_are_written_in_batches_and_on_close(config, lake, contract):
    table = predictions_table(config)
    log = PredictionLog(table, log_schema(contract), flush_rows=10, flush_s=60)
    for i in range(25):
        log.append(row(contract, i))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (table.version() or 0) < 1:
        time.sleep(0.05)
    assert table.read().height == 20  # two full batches; the last 5 wait for the deadline or close
    log.close()
    frame = table.read()
    assert frame.height == 25
    assert set(frame["request_id"]) == {f"r{i}" for i in range(25)}


def test_all_null_nullable_column_still_appends(config, lake, contract):
    nullable = [c.name for c in contract.features if c.nullable]
    log = PredictionLog(predictions_table(config), log_schema(contract), flush_rows=100, flush_s=0.1)
    log.append({**row(contract, 0), **dict.fromkeys(nullable)})
    log.close()
    log = PredictionLog(predictions_table(config), log_schema(contract), flush_rows=100, flush_s=0.1)
    log.append(row(contract, 1))
    log.close()
    frame = predictions_table(config).read()
    assert frame.height == 2
    assert frame.schema[nullable[0]] == pl.Float64


def test_a_failing_lake_does_not_raise(contract, tmp_path, caplog):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the lake should be")
    from pipelines.lake import Lake

    log = PredictionLog(Lake(str(blocked)).table("predictions", "x"), log_schema(contract), 10, 0.1)
    log.append(row(contract, 0))
    log.close()
    assert "could not append" in caplog.text


def test_a_full_queue_drops_and_counts(contract, lake, config, monkeypatch):
    import service.prediction_log as module

    monkeypatch.setattr(module, "QUEUE_LIMIT", 1)
    log = PredictionLog(predictions_table(config), log_schema(contract), flush_rows=1000, flush_s=60)
    for i in range(50):
        log.append(row(contract, i))
    assert log.dropped > 0
    log.close()
