"""PII planted in raw drops appears nowhere downstream: not in any table, the report, or the CLI's output."""

from __future__ import annotations

import polars as pl
import pytest
from typer.testing import CliRunner

from mlrig_cli.app import app
from pipelines.demo import generate_raw_drops
from tests.conftest import explain

pytestmark = pytest.mark.integration


def table_text(lake, layer: str, name: str) -> str:
    frame = lake.table(layer, name).read()
    return "\n".join(str(v) for column in frame.columns for v in frame[column].drop_nulls().to_list())


def test_planted_pii_reaches_no_table_report_or_output(work_dir, lake, config):
    contract = config.contract
    drops = generate_raw_drops(contract, config.raw_dir, rows=600, days=2, seed=13, dirt_rate=0.05)
    raw = pl.read_csv(drops.files, infer_schema=False, truncate_ragged_lines=True)
    planted = {v for c in contract.pii_columns for v in raw[c.name].drop_nulls().to_list() if len(v) > 4}
    assert len(planted) > 1000  # names, e-mails, phones and customer numbers

    runner = CliRunner()
    output = []
    for stage in ("ingest", "refine", "features", "report"):
        result = runner.invoke(app, [stage])
        assert result.exit_code == 0, explain(result)
        output.append(result.output)
    report = next(config.reports_dir.glob("*.html")).read_text(encoding="utf-8")

    places = {
        "CLI output": "\n".join(output),
        "report": report,
        "silver": table_text(lake, "silver", contract.dataset),
        "quarantine": table_text(lake, "quarantine", contract.dataset),
        "gold features": table_text(lake, "gold", f"{contract.dataset}_features"),
        "gold segments": table_text(lake, "gold", f"{contract.dataset}_by_segment"),
        "lineage": table_text(lake, "lineage", "runs"),
    }
    for place, text in places.items():
        leaked = [value for value in planted if value in text]
        assert not leaked, f"PII in {place}: {leaked[:3]}"
