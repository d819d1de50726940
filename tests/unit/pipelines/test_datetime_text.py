"""Datetime text reads the same for every row whatever the rows around it: ISO 8601 unless the contract names a
format, which `mlrig init` proposes from a sample. polars' own guess took the first value's format for the whole
batch, so an ISO value was read or refused depending on which bucket, and which neighbour, it landed with."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.config import Column, load_config
from pipelines.contract import cast_from_text
from tests.conftest import explain

ISO = {
    "2026-11-01T02:00:28": dt.datetime(2026, 11, 1, 2, 0, 28),
    "2026-11-01 02:00:28": dt.datetime(2026, 11, 1, 2, 0, 28),
    "2026-11-01T02:00:28.250": dt.datetime(2026, 11, 1, 2, 0, 28, 250_000),
    "2026-11-01 02:00": dt.datetime(2026, 11, 1, 2, 0),
    " 2026-11-01 ": dt.datetime(2026, 11, 1),
}
NOT_ISO = ["01/11/2026", "11/13/2026", "2026-11-01T02:00:28Z", "1 Nov 2026", "soon"]


def _read(values: list[str | None], column: Column) -> list[dt.datetime | None]:
    return (
        pl.DataFrame({column.name: values}, schema={column.name: pl.String})
        .select(cast_from_text(column))[column.name]
        .to_list()
    )


@pytest.mark.parametrize("first", [*NOT_ISO, *ISO])
def test_each_value_reads_the_same_whichever_value_comes_first(first):
    column = Column(name="at", dtype="datetime")
    values = [first, *ISO, *NOT_ISO]
    alone = {value: _read([value], column)[0] for value in values}
    assert dict(zip(values, _read(values, column), strict=True)) == alone
    assert dict(zip(values[::-1], _read(values[::-1], column), strict=True)) == alone
    assert {v: alone[v] for v in ISO} == ISO
    assert all(alone[v] is None for v in NOT_ISO)


def test_a_named_format_reads_its_texts_and_an_offset_becomes_utc():
    day_first = Column(name="at", dtype="datetime", format="%d/%m/%Y")
    assert _read(["01/11/2026", "13/11/2026", "2026-11-01", None], day_first) == [
        dt.datetime(2026, 11, 1),
        dt.datetime(2026, 11, 13),
        None,
        None,
    ]
    zoned = Column(name="at", dtype="datetime", format="%Y-%m-%dT%H:%M:%S%#z")
    assert _read(["2026-11-01T02:00:28Z", "2026-11-01T02:00:28+02:00"], zoned) == [
        dt.datetime(2026, 11, 1, 2, 0, 28),
        dt.datetime(2026, 11, 1, 0, 0, 28),
    ]


def test_a_format_on_a_column_that_is_not_a_datetime_is_refused():
    with pytest.raises(ValidationError, match="`format` only applies to dtype = 'datetime'"):
        Column(name="n", dtype="int", format="%Y")


def test_init_proposes_the_format_of_day_first_dates_and_every_row_then_reads(tmp_path):
    drops = tmp_path / "drops"
    drops.mkdir()
    dates = [f"{1 + n % 28:02d}/{1 + n % 12:02d}/2026" for n in range(300)]  # days up to 28: day first, surely
    rows = [f"c{n},{date},{n % 7 * 10.5},{'yes' if n % 3 else 'no'}" for n, date in enumerate(dates)]
    (drops / "signups.csv").write_text("customer,signed_up,spend,churned\n" + "\n".join(rows) + "\n")
    config = tmp_path / "mlrig.toml"

    result = CliRunner().invoke(app, ["init", "--from", str(drops), "--target", "churned", "--config", str(config)])

    assert result.exit_code == 0, explain(result)
    signed_up = load_config(config).contract.columns["signed_up"]
    assert (signed_up.dtype, signed_up.format) == ("datetime", "%d/%m/%Y")
    read = _read(dates, signed_up)
    assert None not in read and read[27] == dt.datetime(2026, 4, 28)
