"""`mlrig train` then `mlrig gate`, through the CLI: a failed rule exits 1 and names itself; a pass promotes."""

from __future__ import annotations

import pytest

from pipelines.config import load_config
from pipelines.ml import registry
from tests.integration.ml.conftest import run

pytestmark = pytest.mark.integration

# 1,500 demo rows give a weaker model than the demo's 20,000; these rules fit the small data.
SMALL_DATA = {
    "min_metrics": "{ roc_auc = 0.6 }",
    "max_slice_gap": "{}",
    "latency_repeats": "20",
    "batch_rows": "200",
}


@pytest.fixture(scope="module")
def trained(gold_workspace):
    """`mlrig train` once for the module: every test below judges, exports or documents this model."""
    result = run("train")
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def lenient(gate_config):
    # Budgets no busy shared runner misses: the promotion tests are not about latency (the first test is).
    return gate_config("small-data", **SMALL_DATA, max_p99_row_ms="10000.0", max_p99_batch_ms="60000.0")


def test_gate_over_the_latency_budget_exits_nonzero_and_names_the_rule(trained, gate_config, gold_workspace):
    tiny = gate_config("tiny-budget", **SMALL_DATA, max_p99_row_ms="0.001", max_p99_batch_ms="0.001")
    result = run("gate", "--config", str(tiny))
    assert result.exit_code == 1
    assert "FAILED" in result.output and "not promoted" in result.output and "p99 one row" in result.output
    card = next((gold_workspace / "reports").glob("*.html")).read_text(encoding="utf-8")
    assert "FAILED" in card and "p99 one row" in card  # a blocked model's card says why
    assert registry.champion_tag(load_config(tiny)) is None


def test_gate_that_passes_promotes_the_model(trained, lenient):
    result = run("gate", "--config", str(lenient))
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output and "now the champion" in result.output
    assert registry.champion_tag(load_config(lenient)).startswith(load_config(lenient).model.name + ":")


def test_card_command_writes_the_gated_models_card(trained, lenient, gold_workspace):
    assert run("gate", "--config", str(lenient)).exit_code == 0
    result = run("card")
    assert result.exit_code == 0, result.output
    path = next((gold_workspace / "reports").glob("*.html"))
    assert str(path.name) in result.output.replace("\n", "") and "PASSED" in path.read_text(encoding="utf-8")


def test_gate_with_an_unknown_metric_is_a_config_error(gold_workspace, gate_config):
    typo = gate_config("typo", min_metrics="{ auc = 0.7 }")
    result = run("gate", "--config", str(typo))
    assert result.exit_code == 2 and "unknown metric" in result.output


def test_exported_model_imports_into_an_empty_store(trained, gold_workspace, tmp_path, monkeypatch):
    exported = run("export-model")
    assert exported.exit_code == 0, exported.output
    tag = exported.output.split("export-model: ")[1].split(" ")[0]
    assert next((gold_workspace / "lake" / "models").rglob("*.bentomodel")).is_file()

    # A job elsewhere: same lake, its own empty model store.
    other = tmp_path / "other-job"
    other.mkdir()
    (other / "lake").symlink_to(gold_workspace / "lake")
    monkeypatch.setenv("MLRIG_WORK_DIR", str(other))
    imported = run("import-model", "--tag", tag)
    assert imported.exit_code == 0, imported.output
    assert (other / "bentoml" / "models" / tag.replace(":", "/")).is_dir()
    assert run("import-model", "--tag", tag).exit_code == 0  # already there: nothing to do
    missing = run("import-model", "--tag", tag.split(":")[0] + ":doesnotexist")
    assert missing.exit_code == 1 and "mlrig export-model" in missing.output
