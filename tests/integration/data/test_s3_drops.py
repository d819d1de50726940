"""Raw drops in the object store, as a cluster has them: `mlrig generate` uploads to an s3:// prefix and
`mlrig ingest` reads from it with the lake's S3 settings, through a real S3 HTTP server (moto) on 127.0.0.1."""

from __future__ import annotations

import pytest
from pyarrow import fs
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.config import LAKE_URL_ENV, RAW_URL_ENV
from pipelines.lake_files import filesystem_of
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration  # s3_lake: tests/integration/conftest.py


def run(*args: str) -> tuple[int, str]:
    """Exit code and output, line wrapping undone (the console wraps long paths)."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


def test_generated_drops_land_in_the_store_and_ingest_reads_them_from_there(s3_lake, config, monkeypatch):
    raw_url = s3_lake.url.rsplit("/", 1)[0] + "/raw-" + s3_lake.url.rsplit("/", 1)[1]
    monkeypatch.setenv(RAW_URL_ENV, raw_url)
    monkeypatch.setenv(LAKE_URL_ENV, s3_lake.url)
    assert config.raw_url == raw_url

    code, said = run("ingest")
    assert code != 0 and f"drops in {raw_url}" in said and "Traceback" not in said, said

    code, said = run("generate", "--rows", "400", "--days", "2")
    assert code == 0 and raw_url in said, said
    filesystem, prefix = filesystem_of(raw_url)
    names = [i.base_name for i in filesystem.get_file_info(fs.FileSelector(prefix))]
    assert names == [f"{config.contract.dataset}_2026-11-01.csv", f"{config.contract.dataset}_2026-11-02.csv"]

    code, said = run("ingest")
    assert code == 0 and "from 2 new file(s)" in said, said
    bronze = s3_lake.table("bronze", config.contract.dataset).read()
    assert sorted(bronze["_source_file"].unique()) == names
    code, said = run("ingest")  # idempotent: the same objects are skipped by content
    assert code == 0 and "0 rows from 0 new file(s), 2 already in bronze" in said, said


def test_an_unreachable_store_is_a_clear_error_not_a_traceback(s3_lake, monkeypatch):
    monkeypatch.setenv(RAW_URL_ENV, "s3://mlrig-lake/raw")
    monkeypatch.setenv(LAKE_URL_ENV, s3_lake.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    code, said = run("ingest")
    assert code != 0 and "s3://mlrig-lake/raw: cannot be listed" in said and "Traceback" not in said, said
    code, said = run("generate", "--rows", "50", "--days", "1")
    assert code != 0 and "cannot be written" in said and "Traceback" not in said, said
