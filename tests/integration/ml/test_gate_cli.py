"""`mlrig train` then `mlrig gate`, through the CLI: a failed rule exits 1 and names itself; a pass promotes; a pod
with an empty model store gates, promotes and builds against the champion the lake names."""

from __future__ import annotations

import json

import pytest

from pipelines.config import LAKE_URL_ENV, WORK_DIR_ENV, load_config
from pipelines.ml import registry
from tests.conftest import explain
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
    assert result.exit_code == 0, explain(result)
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
    assert result.exit_code == 0, explain(result)
    assert "PASSED" in result.output and "now the champion" in result.output
    assert registry.champion_tag(load_config(lenient)).startswith(load_config(lenient).model.name + ":")


def test_card_command_writes_the_gated_models_card(trained, lenient, gold_workspace):
    assert run("gate", "--config", str(lenient)).exit_code == 0
    result = run("card")
    assert result.exit_code == 0, explain(result)
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


# A Kubernetes Job starts with an empty model store in an emptyDir and reaches the lake by URL. The tests below play
# such pods against this module's lake; they end with the trained model as champion again, as they found it.
WORSE = {"n_estimators": "1", "num_leaves": "2"}  # one tree of two leaves: fast to train, clearly worse


@pytest.fixture
def pod(gold_workspace, tmp_path, monkeypatch):
    """enter("name"): switch to a pod's view — its own empty work folder and store, the module's lake by URL."""

    def enter(name: str):
        work = tmp_path / name
        work.mkdir()
        monkeypatch.setenv(WORK_DIR_ENV, str(work))
        monkeypatch.setenv(LAKE_URL_ENV, str(gold_workspace / "lake"))
        return work

    return enter


def test_a_fresh_pod_gates_against_the_lakes_champion_and_blocks_a_worse_model(trained, lenient, gate_config, pod):
    assert run("gate", "--config", str(lenient)).exit_code == 0
    champion = registry.champion_tag(load_config(lenient))
    worse = gate_config("worse", **SMALL_DATA, max_p99_row_ms="10000.0", max_p99_batch_ms="60000.0", **WORSE)

    work = pod("retrain-pod")
    result = run("retrain", "--force", "--config", str(worse))  # what the scheduled training CronJob runs
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())  # rich wraps lines at the runner's width
    assert "roc_auc vs champion" in said and "FAIL" in said and f"vs champion {champion}" in said
    assert "the gate blocked" in said and "the champion keeps serving" in said
    assert (work / "bentoml" / "models" / champion.replace(":", "/")).is_dir()  # imported from the lake
    assert registry.champion_tag(load_config(worse)) == champion


def test_a_pods_promotion_is_every_stores_champion_and_rolls_back(trained, lenient, gate_config, gold_workspace, pod):
    assert run("gate", "--config", str(lenient)).exit_code == 0
    champion = registry.champion_tag(load_config(lenient))
    anything_goes = gate_config(
        "anything-goes", **{**SMALL_DATA, "min_metrics": "{ roc_auc = 0.5 }"}, max_regression="{}", **WORSE
    )
    pod("retrain-pod")
    promoted = run("retrain", "--force", "--config", str(anything_goes))
    assert promoted.exit_code == 0, promoted.output

    pod("laptop")  # any other store sharing the lake sees the pod's champion, and the one before it
    shown = run("champion")
    assert shown.exit_code == 0, shown.output
    new = shown.stdout.strip().splitlines()[-1]
    assert new != champion and registry.previous_champion(load_config(lenient)) == champion

    rolled = run("champion", "--rollback")
    assert rolled.exit_code == 0, rolled.output
    assert rolled.stdout.strip().splitlines()[-1] == champion
    assert registry.previous_champion(load_config(lenient)) == new


def test_build_on_a_fresh_runner_packages_the_lakes_champion(trained, lenient, pod):
    import bentoml

    from service.routing import VARIANTS_ENV

    assert run("gate", "--config", str(lenient)).exit_code == 0
    champion = registry.champion_tag(load_config(lenient))
    work = pod("cd-runner")
    result = run("build")
    assert result.exit_code == 0, explain(result)
    assert (work / "bentoml" / "models" / champion.replace(":", "/")).is_dir()
    bento = bentoml.bentos.get(result.output.split("Bento ")[1].split(" ")[0])
    variants = json.loads(next(env.value for env in bento.info.envs if env.name == VARIANTS_ENV))
    assert {variant["model"] for variant in variants.values()} == {champion}
