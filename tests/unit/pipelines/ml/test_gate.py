"""The gate: blocks a worse model, blocks a slow one, promotes a good one, and records why."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipelines.ml import registry
from pipelines.ml.gate import GateError, gate_models, judge, run_gate, stored_scorer, verdict_table
from pipelines.ml.register import load_model, register
from pipelines.ml.train import load_split, train
from pipelines.tasks.binary import BINARY
from tests.unit.pipelines.ml.conftest import with_gate

# Loose enough for 1,500 demo rows (the demo config's own thresholds assume 20,000).
LENIENT = {"min_metrics": {"roc_auc": 0.6}, "max_slice_gap": {}, "max_p99_row_ms": 1000.0, "max_p99_batch_ms": 5000.0}
FAST = {"latency_repeats": 20, "batch_rows": 200}


class BusyScorer:
    """A real serving scorer that computes for `cpu_s` more on every call: what a model too big for the latency
    budget looks like (it burns CPU time; sleeping would not, and the gate measures CPU time)."""

    def __init__(self, scorer, cpu_s: float) -> None:
        self.scorer, self.cpu_s = scorer, cpu_s
        self.features = scorer.features

    def predict(self, columns, rows):
        start = time.thread_time()
        while time.thread_time() - start < self.cpu_s:
            pass
        return self.scorer.predict(columns, rows)


class IdleScorer(BusyScorer):
    """A scorer that waits (as a preempted call on a loaded machine does) without computing."""

    def predict(self, columns, rows):
        time.sleep(self.cpu_s)
        return self.scorer.predict(columns, rows)


@pytest.fixture(scope="module")
def good_tag(ml_lake, config):
    return register(train(ml_lake, config), config)


def test_first_model_is_judged_on_absolute_rules_and_promoted(ml_lake, config, good_tag):
    verdict = run_gate(ml_lake, with_gate(config, **LENIENT, **FAST), good_tag)
    assert verdict.passed and verdict.champion is None
    assert not any("champion" in rule.name for rule in verdict.rules)
    assert registry.champion_tag(config) == good_tag
    assert load_model(good_tag)[2]["gate"]["status"] == "passed"


def test_gate_blocks_a_worse_challenger(ml_lake, config, good_tag):
    strict = with_gate(config, **LENIENT, **FAST)
    run_gate(ml_lake, strict, good_tag)  # the good model is champion
    worse = register(train(ml_lake, config, params={"n_estimators": 1, "num_leaves": 2}), config)
    verdict = run_gate(ml_lake, strict, worse)
    failed = [rule.name for rule in verdict.rules if not rule.passed]
    assert not verdict.passed and "roc_auc vs champion" in failed
    assert verdict.champion == good_tag and verdict.champion_metrics["roc_auc"] > verdict.metrics["roc_auc"]
    assert registry.champion_tag(config) == good_tag  # not promoted
    assert load_model(worse)[2]["gate"]["status"] == "failed"


def test_gate_blocks_a_model_over_the_latency_budget(ml_lake, config, good_tag):
    budget = with_gate(config, **{**LENIENT, "max_p99_row_ms": 5.0, "max_p99_batch_ms": 5.0}, **FAST)
    _, model, _ = load_model(good_tag)
    split = load_split(ml_lake, budget)
    rules, *_ = gate_models(model, None, split, budget, scorer=BusyScorer(stored_scorer(good_tag), 0.01))
    failed = {rule.name for rule in rules if not rule.passed}
    assert failed == {"p99 one row (ms)", "p99 batch of 200 (ms)"}
    assert all(rule.value >= 10 for rule in rules if rule.name in failed)


def test_latency_is_the_serving_scorers_cpu_time_so_waiting_on_a_loaded_machine_does_not_fail_it(
    ml_lake, config, good_tag
):
    """Wall time on a shared runner measures the neighbours: a call that waits 10 ms without computing (what a
    preempted call does) must not fail a 5 ms budget, while computing for 10 ms does (the test above)."""
    budget = with_gate(config, **{**LENIENT, "max_p99_row_ms": 5.0, "max_p99_batch_ms": 5.0}, **FAST)
    _, model, _ = load_model(good_tag)
    rules, _, _, latency = gate_models(
        model, None, load_split(ml_lake, budget), budget, scorer=IdleScorer(stored_scorer(good_tag), 0.01)
    )
    assert all(rule.passed for rule in rules if rule.name.startswith("p99")), latency
    assert latency["clock"] == "thread CPU time" and latency["p99_row_ms"] < 5.0


def test_gate_blocks_a_slice_gap_over_the_limit(ml_lake, config, good_tag):
    _, model, _ = load_model(good_tag)
    tight = with_gate(config, **{**LENIENT, "max_slice_gap": {"roc_auc": 0.0}, "min_slice_rows": 10}, **FAST)
    rules, *_ = gate_models(model, None, load_split(ml_lake, tight), tight)
    gaps = [rule for rule in rules if rule.name.startswith("roc_auc gap by")]
    assert {rule.name for rule in gaps} == {f"roc_auc gap by {c}" for c in config.model.slices}
    assert not any(rule.passed for rule in gaps)


def test_undefined_metric_never_passes(config):
    report = {"metrics": {"roc_auc": None}, "slices": {}}
    rules = judge(report, None, {"p99_row_ms": 1, "p99_batch_ms": 1, "batch_rows": 10}, config.gate, BINARY)
    assert not next(rule for rule in rules if rule.name == "roc_auc ≥ minimum").passed


def test_verdict_table_names_each_rule(ml_lake, config, good_tag):
    verdict = run_gate(ml_lake, with_gate(config, **LENIENT, **FAST), good_tag)
    table = verdict_table(verdict)
    assert [c.header for c in table.columns][:4] == ["rule", "value", "limit", "result"]
    assert table.row_count == len(verdict.rules)


def test_gate_without_a_model_says_what_to_run(work_dir, lake, config):
    from pipelines.ml.register import use_bentoml_home

    use_bentoml_home(config.bentoml_home)
    with pytest.raises(GateError, match="mlrig train"):
        run_gate(lake, config)


def test_gate_refuses_to_judge_without_a_readable_champion_pointer(ml_lake, config, good_tag):
    from pipelines.ml.register import use_bentoml_home

    use_bentoml_home(config.bentoml_home)  # the module's store: a test before may have switched to its own
    pointer = Path(registry.pointer_url(config))
    before = pointer.read_bytes() if pointer.exists() else None
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text("{")  # damaged from outside: judging on absolute rules only would let anything through
    try:
        with pytest.raises(GateError, match=f"cannot judge {good_tag} against the champion.*unreadable"):
            run_gate(ml_lake, with_gate(config, **LENIENT, **FAST), good_tag)
    finally:
        if before is None:
            pointer.unlink()
        else:
            pointer.write_bytes(before)
