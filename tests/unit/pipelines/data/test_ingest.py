from __future__ import annotations

import pytest

from pipelines.data.ingest import SOURCE_SHA, IngestError, ingest


def test_ingest_appends_every_row_as_text_with_load_metadata(tiny_raw_drop, lake, config):
    result = ingest(config.raw_dir, lake, config.contract)
    bronze = lake.table("bronze", config.contract.dataset).read()
    assert result.rows == bronze.height == tiny_raw_drop.rows_written
    assert result.files_ingested == len(tiny_raw_drop.files)
    assert bronze.schema["tenure_months"].is_(__import__("polars").String)  # as received, not parsed
    assert bronze[SOURCE_SHA].n_unique() == len(tiny_raw_drop.files)


def test_reingesting_the_same_files_adds_nothing(tiny_raw_drop, lake, config):
    first = ingest(config.raw_dir, lake, config.contract)
    again = ingest(config.raw_dir, lake, config.contract)
    assert again.rows == 0 and again.files_skipped == len(tiny_raw_drop.files)
    assert again.bronze_version == first.bronze_version
    assert lake.table("bronze", config.contract.dataset).read().height == tiny_raw_drop.rows_written


def test_empty_file_is_refused_by_name_and_lake_untouched(tiny_raw_drop, lake, config):
    ingest(config.raw_dir, lake, config.contract)
    before = lake.table("bronze", config.contract.dataset).version()
    (config.raw_dir / "customers_2026-12-01.csv").write_text("")
    with pytest.raises(IngestError, match=r"customers_2026-12-01\.csv.*empty"):
        ingest(config.raw_dir, lake, config.contract)
    assert lake.table("bronze", config.contract.dataset).version() == before


def test_missing_column_is_named(tiny_raw_drop, lake, config):
    bad = config.raw_dir / "customers_2026-12-02.csv"
    bad.write_text("customer_id,email\nC1,a@b.c\n")
    with pytest.raises(IngestError, match=r"missing column.*tenure_months"):
        ingest(config.raw_dir, lake, config.contract)
    assert not lake.table("bronze", config.contract.dataset).exists()


def test_no_drops_says_where_it_looked(work_dir, lake, config):
    config.raw_dir.mkdir(parents=True)
    with pytest.raises(IngestError, match="mlrig generate"):
        ingest(config.raw_dir, lake, config.contract)


def _copy_with_header(source, target, edit_header, encoding="utf-8"):
    """A drop like `source` with its header line changed: the shape of a real upstream schema change."""
    header, body = source.read_text(encoding="utf-8").split("\n", 1)
    target.write_text(edit_header(header) + "\n" + body, encoding=encoding)


def test_extra_column_is_ignored_and_reported_not_stored(tiny_raw_drop, lake, config):
    source = tiny_raw_drop.files[0]
    drop = config.raw_dir / "customers_2026-12-03.csv"
    lines = source.read_text(encoding="utf-8").splitlines()
    drop.write_text("\n".join([lines[0] + ",loyalty_tier", *(f"{line},gold" for line in lines[1:])]) + "\n")
    source.unlink()
    result = ingest(config.raw_dir, lake, config.contract)
    assert result.ignored_columns == {drop.name: ["loyalty_tier"]}
    assert "loyalty_tier" not in lake.table("bronze", config.contract.dataset).read().columns


def test_non_utf8_file_is_refused_with_line_and_encoding_hint(tiny_raw_drop, lake, config):
    ingest(config.raw_dir, lake, config.contract)
    before = lake.table("bronze", config.contract.dataset).version()
    latin = config.raw_dir / "customers_2026-12-04.csv"
    latin.write_bytes("customer_id,full_name\nC1,Jos\u00e9 M\u00fcller\n".encode("latin-1"))
    with pytest.raises(IngestError, match=r"customers_2026-12-04\.csv: line 2 is not valid utf-8.*cp1252"):
        ingest(config.raw_dir, lake, config.contract)
    assert lake.table("bronze", config.contract.dataset).version() == before


def test_latin1_export_is_transcoded_when_the_encoding_is_set(tiny_raw_drop, lake, config):
    source = tiny_raw_drop.files[0]
    text = source.read_text(encoding="utf-8")
    assert "ü" in text  # the demo's names carry umlauts, so transcoding is exercised
    source.write_bytes(text.encode("cp1252"))
    ingest(config.raw_dir, lake, config.contract, encoding="cp1252")
    names = lake.table("bronze", config.contract.dataset).read()["full_name"]
    assert names.str.contains("ü").any() and not names.str.contains("\ufffd").any()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"customer_id,email\nC1,a@b.c,extra,fields\n", r"line 2 has more fields than the 2 in the header"),
        (b'customer_id,email\nC1,"unterminated\nC2,x\n', r"not readable as CSV"),
        (b"\x1f\x8b\x08\x00\x00truncated-gzip", r"binary content, not CSV text.*re-export"),
        (b"PK\x03\x04\x14\x00\x06\x00", r"binary content"),
    ],
    ids=["ragged-long-line", "broken-quoting", "corrupt-archive", "xlsx-renamed"],
)
def test_corrupt_file_is_refused_by_name_and_lake_untouched(tiny_raw_drop, lake, config, content, message):
    ingest(config.raw_dir, lake, config.contract)
    before = lake.table("bronze", config.contract.dataset).version()
    (config.raw_dir / "customers_2026-12-05.csv").write_bytes(content)
    with pytest.raises(IngestError, match=rf"customers_2026-12-05\.csv: .*{message}"):
        ingest(config.raw_dir, lake, config.contract)
    assert lake.table("bronze", config.contract.dataset).version() == before


def test_an_unknown_encoding_in_the_config_is_refused_by_name():
    from pydantic import ValidationError

    from pipelines.config import Storage

    with pytest.raises(ValidationError, match=r"unknown encoding 'latin-9x'.*cp1252"):
        Storage(encoding="latin-9x")


def test_cli_ingest_refusal_exits_nonzero_with_the_files_message(tiny_raw_drop, config):
    from typer.testing import CliRunner

    from mlrig_cli.app import app

    (config.raw_dir / "customers_2026-12-06.csv").write_bytes(b"customer_id\nC1\n")
    result = CliRunner().invoke(app, ["ingest"])
    assert result.exit_code == 1
    unwrapped = "".join(result.output.split())  # rich wraps long paths at the terminal width
    assert "ingestfailed" in unwrapped and "customers_2026-12-06.csv:missingcolumn" in unwrapped
