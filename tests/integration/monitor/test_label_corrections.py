"""Late labels on real Delta files: a correction recorded later wins, whatever order the table's files come back in,
and a labels table written before labels were stamped keeps working."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import Config
from pipelines.monitor.outcomes import LABEL, LOGGED_AT, PROBABILITY, RECORDED_AT, REQUEST_KEY, join_outcomes
from pipelines.monitor.run import labels_table, record_outcomes

pytestmark = pytest.mark.integration


def labels(*pairs: tuple[str, int]) -> pl.DataFrame:
    return pl.DataFrame({REQUEST_KEY: [k for k, _ in pairs], LABEL: [v for _, v in pairs]})


PREDICTIONS = pl.DataFrame(
    {REQUEST_KEY: ["a", "b"], PROBABILITY: [0.9, 0.2], LOGGED_AT: [dt.datetime(2026, 12, 1)] * 2}
)


def test_the_most_recently_recorded_label_wins_in_any_file_order(work_dir: Path, config: Config):
    record_outcomes(config, labels(("a", 0), ("b", 0)))
    record_outcomes(config, labels(("a", 1)))  # the correction
    stored = labels_table(config).read()
    assert stored[RECORDED_AT].null_count() == 0
    for order in (stored, stored.reverse()):  # the table promises no row order across its files
        joined = join_outcomes(PREDICTIONS, order).sort(REQUEST_KEY)
        assert joined[LABEL].to_list() == [1, 0]


def test_a_labels_table_from_before_the_stamp_takes_stamped_corrections(work_dir: Path, config: Config):
    labels_table(config).write(labels(("a", 0), ("b", 1)), mode="append")  # as an older release wrote it
    record_outcomes(config, labels(("a", 1)))
    stored = labels_table(config).read()
    assert stored.height == 3 and stored[RECORDED_AT].null_count() == 2
    joined = join_outcomes(PREDICTIONS, stored.reverse()).sort(REQUEST_KEY)
    assert joined[LABEL].to_list() == [1, 1]
