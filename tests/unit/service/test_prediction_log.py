from __future__ import annotations

import time

import polars as pl

from pipelines.contract import example_request
from service.prediction_log import PredictionLog, log_schema, loggable_features, predictions_table


def block(contract, first: int, rows: int = 1) -> tuple[int, dict]:
    """`rows` logged answers as one block: inputs and outcomes per row, the rest shared."""
    inputs = {name: [value] * rows for name, value in example_request(contract).items()}
    ids = [f"r{first + i}" for i in range(rows)]
    return rows, {
        **inputs,
        "request_id": ids if rows > 1 else ids[0],
        "request_key": None,
        "endpoint": "/score",
        "variant": "a",
        "shadow": False,
        "model_version": "m:1",
        "probability": [0.5] * rows,
        "prediction": ["no"] * rows,
        "latency_ms": 1.0,
    }


def test_pii_columns_never_reach_the_log(contract):
    assert {c.name for c in contract.pii_columns}
    assert not {c.name for c in contract.pii_columns} & set(loggable_features(contract))
    assert set(loggable_features(contract)) <= set(contract.feature_names)


def test_rows_are_written_in_batches_and_on_close(config, lake, contract):
    table = predictions_table(config)
    log = PredictionLog(table, log_schema(contract), flush_rows=10, flush_s=60)
    for i in range(25):
        log.append(*block(contract, i))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (table.read().height if table.exists() else 0) < 20:
        time.sleep(0.05)
    assert table.read().height == 20  # two full batches; the last 5 wait for the deadline or close
    log.close()
    frame = table.read()
    assert frame.height == 25
    assert set(frame["request_id"]) == {f"r{i}" for i in range(25)}


def test_a_block_of_many_rows_lands_whole_with_shared_values_repeated(config, lake, contract):
    log = PredictionLog(predictions_table(config), log_schema(contract), flush_rows=1000, flush_s=60)
    log.append(*block(contract, 0, rows=300))
    log.close()
    frame = predictions_table(config).read()
    assert frame.height == 300
    assert frame["request_id"].to_list() == [f"r{i}" for i in range(300)]
    assert set(frame["variant"]) == {"a"} and frame["logged_at"].null_count() == 0


def test_all_null_nullable_column_still_appends(config, lake, contract):
    nullable = [c.name for c in contract.features if c.nullable]
    log = PredictionLog(predictions_table(config), log_schema(contract), flush_rows=100, flush_s=0.1)
    rows, columns = block(contract, 0)
    log.append(rows, {**columns, **{name: [None] for name in nullable}})
    log.close()
    log = PredictionLog(predictions_table(config), log_schema(contract), flush_rows=100, flush_s=0.1)
    log.append(*block(contract, 1))
    log.close()
    frame = predictions_table(config).read()
    assert frame.height == 2
    assert frame.schema[nullable[0]] == pl.Float64


def test_a_failing_lake_does_not_raise(contract, tmp_path, caplog):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the lake should be")
    from pipelines.lake import Lake

    log = PredictionLog(Lake(str(blocked)).table("predictions", "x"), log_schema(contract), 10, 0.1)
    log.append(*block(contract, 0))
    log.close()
    assert "could not append" in caplog.text


def test_a_full_queue_drops_and_counts(contract, lake, config, monkeypatch):
    import service.prediction_log as module

    monkeypatch.setattr(module, "QUEUE_LIMIT", 1)
    log = PredictionLog(predictions_table(config), log_schema(contract), flush_rows=1000, flush_s=60)
    for i in range(50):
        log.append(*block(contract, i))
    assert log.dropped > 0
    log.close()
