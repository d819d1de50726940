"""Gate: a registered challenger → champion, only if it is good enough, no worse than the champion, fair
enough across slices, fast enough on this machine, and served faithfully (its compiled serving scorer gives
the Pipeline's probabilities on the test rows).

Both models are scored on the same rows: the challenger's test split, re-created from the gold version and
seed it recorded. The rules come from `[gate]` in the project config. Every rule is checked (a reviewer sees
all failures at once); the verdict is written into the challenger's metadata, and a pass moves the
champion pointer in the lake (registry.py). The champion comes from that pointer, imported into this store if
missing, so a job with an empty store still gates against it. The first model (no champion yet) is judged on the
absolute rules only.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rich.table import Table

from pipelines.config import Config, GateSettings
from pipelines.lake import Lake
from pipelines.ml import registry
from pipelines.ml.evaluate import evaluate
from pipelines.ml.lift import Lift, lift_bounds, trivial_baseline
from pipelines.ml.register import load_model, record_metadata
from pipelines.ml.scorer import MAX_PROBABILITY_GAP, ScorerError, agreement, load_scorer
from pipelines.ml.threshold import DEFAULT_THRESHOLD, threshold_of
from pipelines.ml.train import Split, load_split

VERDICT_FILE = "gate.json"  # in <work>/reports/, beside the model cards
LATENCY_ROUNDS = 3  # a slow round is measured again, up to this many times; the best counts


class GateError(ValueError):
    """The gate cannot run (no model, no gold at the recorded version); the message says what to do."""


@dataclass(frozen=True)
class Rule:
    name: str
    value: float
    limit: float
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class Verdict:
    challenger: str
    champion: str | None
    passed: bool
    rules: list[Rule]
    metrics: dict
    champion_metrics: dict | None
    latency_ms: dict[str, float]
    test_rows: int
    gold: str
    notes: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)  # what to try, one line per failed kind of rule

    def to_dict(self) -> dict:
        return {**asdict(self), "status": "passed" if self.passed else "failed"}


def measure_latency(model, features: pd.DataFrame, settings: GateSettings) -> dict[str, float]:
    """p99 wall time of scoring one row, and of scoring `batch_rows` rows, with this process's model object.

    Rows come from the test split, so timings see real feature values. Each p99 is the best of
    `LATENCY_ROUNDS` rounds: a neighbour's burst on a shared CI machine spoils one round, while a model
    that is slow every time fails all of them. One warm-up call first pays the lazy set-up a server pays once.
    """
    model.predict_proba(features.iloc[:1])
    batch = features.iloc[np.random.default_rng(0).integers(0, len(features), settings.batch_rows)]
    rows = [_p99_ms(model, [features.iloc[[i % len(features)]] for i in range(settings.latency_repeats)])]
    batches = [_p99_ms(model, [batch] * max(10, settings.latency_repeats // 10))]  # a batch costs ~100× a row
    for _ in range(LATENCY_ROUNDS - 1):
        if rows[-1] > settings.max_p99_row_ms:
            rows.append(_p99_ms(model, [features.iloc[[i % len(features)]] for i in range(settings.latency_repeats)]))
        if batches[-1] > settings.max_p99_batch_ms:
            batches.append(_p99_ms(model, [batch] * max(10, settings.latency_repeats // 10)))
    return {"p99_row_ms": min(rows), "p99_batch_ms": min(batches), "batch_rows": settings.batch_rows}


def _p99_ms(model, inputs: list[pd.DataFrame]) -> float:
    timings = []
    for frame in inputs:
        start = time.perf_counter()
        model.predict_proba(frame)
        timings.append(time.perf_counter() - start)
    return round(float(np.percentile(timings, 99)) * 1000, 3)


def judge(report: dict, champion_report: dict | None, latency: dict[str, float], settings: GateSettings) -> list[Rule]:
    """Every configured rule, checked against the evaluations (`evaluate()` output) and the latency."""
    metrics = report["metrics"]
    rules = [
        Rule(f"{name} ≥ minimum", _value(metrics, name), floor, _value(metrics, name) >= floor)
        for name, floor in settings.min_metrics.items()
    ]
    rules += [_lift_rule(lift, settings.min_lift[name]) for name, lift in report.get("lift", {}).items()]
    if champion_report is not None:
        for name, allowed in settings.max_regression.items():
            delta = _value(metrics, name) - _value(champion_report["metrics"], name)
            rules.append(
                Rule(f"{name} vs champion", delta, -allowed, delta >= -allowed, "challenger − champion, same rows")
            )
    for column, groups in report["slices"].items():
        for name, allowed in settings.max_slice_gap.items():
            judged = {
                g: m[name]
                for g, m in groups.items()
                if m["test_rows"] >= settings.min_slice_rows and m.get(name) is not None
            }
            if len(judged) < 2:
                continue
            worst, best = min(judged, key=judged.get), max(judged, key=judged.get)
            gap = judged[best] - judged[worst]
            rules.append(
                Rule(
                    f"{name} gap by {column}",
                    gap,
                    allowed,
                    gap <= allowed,
                    f"{best} {judged[best]:.3f}, {worst} {judged[worst]:.3f}",
                )
            )
    rules.append(
        Rule(
            "p99 one row (ms)",
            latency["p99_row_ms"],
            settings.max_p99_row_ms,
            latency["p99_row_ms"] <= settings.max_p99_row_ms,
        )
    )
    rules.append(
        Rule(
            f"p99 batch of {latency['batch_rows']} (ms)",
            latency["p99_batch_ms"],
            settings.max_p99_batch_ms,
            latency["p99_batch_ms"] <= settings.max_p99_batch_ms,
        )
    )
    return rules


def _lift_rule(lift: Lift, required: float) -> Rule:
    """The lift's lower bound must exceed `required` (strictly: a constant score lifts AUC by exactly 0)."""
    bound = f"{lift.confidence:.0%} lower bound" if lift.confidence > 0.5 else "median"
    return Rule(
        f"{lift.metric} lift over trivial, {bound}",
        lift.lower_bound,
        required,
        lift.lower_bound > required,  # NaN (one class in the test rows) fails
        f"{lift.value:.3f} vs {lift.baseline:.3f}; {lift.rounds} resamples of {lift.rows} rows ({lift.positives} pos.)",
    )


def scorer_rule(tag: str, pipeline, split: Split, config: Config) -> Rule:
    """The serving scorer stored with `tag` must give the Pipeline's probabilities on the test rows: the Bento
    serves the scorer, while every metric above was measured on the Pipeline."""
    import bentoml

    name = "serving scorer = Pipeline (max |Δp|)"
    try:
        scorer = load_scorer(Path(bentoml.models.get(tag).path))
    except ScorerError as err:
        return Rule(name, float("nan"), MAX_PROBABILITY_GAP, False, str(err))
    checked = agreement(scorer, pipeline, split.features(config, "test"))
    gap = checked["max_abs_diff"]
    return Rule(name, gap, MAX_PROBABILITY_GAP, gap <= MAX_PROBABILITY_GAP, f"{checked['rows']} test rows")


def _value(metrics: dict, name: str) -> float:
    value = metrics.get(name)
    return float("nan") if value is None else float(value)  # NaN fails every comparison: undefined never passes


def score(model, split: Split, config: Config, threshold: float = DEFAULT_THRESHOLD) -> dict:
    """`evaluate()` of `model` on the split's test rows, deciding at the model's own threshold, with its lift over
    the trivial baselines `[gate] min_lift` names (`report["lift"]`)."""
    features = split.features(config, "test")
    scores = model.predict_proba(features)[:, 1]
    labels = split.labels("test")
    report = evaluate(labels, scores, split.slice_columns(config), threshold)
    confidences = config.gate.lift_confidences()
    report["lift"] = lift_bounds(labels, scores, threshold, confidences, config.gate.lift_rounds, config.model.seed)
    return report


def gate_models(
    challenger,
    champion,
    split: Split,
    config: Config,
    thresholds: tuple[float, float] = (DEFAULT_THRESHOLD, DEFAULT_THRESHOLD),
) -> tuple[list[Rule], dict, dict | None, dict]:
    """The pure part of the gate: judge two model objects on one split (the champion may be None), each at its
    own decision threshold (challenger's, champion's)."""
    report = score(challenger, split, config, thresholds[0])
    champion_report = score(champion, split, config, thresholds[1]) if champion is not None else None
    latency = measure_latency(challenger, split.features(config, "test"), config.gate)
    return judge(report, champion_report, latency, config.gate), report, champion_report, latency


def run_gate(lake: Lake, config: Config, challenger_tag: str | None = None) -> Verdict:
    """Gate the challenger (default: the latest registered model); record the verdict; promote it on a pass."""
    import bentoml

    try:
        tag, challenger, metadata = load_model(challenger_tag or f"{config.model.name}:latest")
    except bentoml.exceptions.NotFound as err:
        raise GateError(
            f"no model {challenger_tag or config.model.name} in the store: run `mlrig train` first."
        ) from err
    recorded = metadata.get("split", {})
    split = load_split(lake, config, metadata["gold_version"], recorded.get("seed"), recorded.get("test_fraction"))
    notes: list[str] = []
    try:  # a job with an empty store (a pod, a CI runner) imports the champion: it must gate against the real one
        champion, champion_tag = None, registry.fetch_champion(config)
    except registry.ChampionError as err:
        raise GateError(f"cannot judge {tag} against the champion: {err}") from err
    if champion_tag == tag:
        champion_tag = None
        notes.append("re-gating the current champion: absolute rules only")
    champion_threshold = DEFAULT_THRESHOLD
    if champion_tag is not None:
        _, champion, champion_meta = load_model(champion_tag)
        champion_threshold = threshold_of(champion_meta)
        if champion_meta.get("contract_hash") != config.contract.fingerprint:
            notes.append(f"champion {champion_tag} was trained under another contract: absolute rules only")
            champion, champion_tag = None, None
    thresholds = (threshold_of(metadata), champion_threshold)
    rules, report, champion_report, latency = gate_models(challenger, champion, split, config, thresholds)
    rules.append(scorer_rule(tag, challenger, split, config))
    verdict = Verdict(
        challenger=tag,
        champion=champion_tag,
        passed=all(rule.passed for rule in rules),
        rules=rules,
        metrics=report["metrics"],
        champion_metrics=champion_report["metrics"] if champion_report else None,
        latency_ms=latency,
        test_rows=len(split.test_idx),
        gold=f"{split.gold_table}@v{split.gold_version}",
        notes=notes,
        advice=advice(rules, report["metrics"], metadata.get("threshold") or {}),
    )
    record_metadata(tag, "gate", verdict.to_dict())
    write_verdict(config, verdict)
    if verdict.passed:
        summary = {"passed": True, "rules": len(rules), "champion_before": champion_tag, "gold": verdict.gold}
        try:
            registry.promote(config, tag, summary)
        except registry.ChampionError as err:
            raise GateError(f"{tag} passed the gate but could not be promoted: {err}") from err
    return verdict


def verdict_path(config: Config) -> Path:
    """Where the last verdict is written: the pull-request comment reads it (`mlrig pr-comment`)."""
    return config.reports_dir / VERDICT_FILE


def write_verdict(config: Config, verdict: Verdict) -> Path:
    """The verdict as JSON, passed or failed, replaced whole (a reader never sees half a file)."""
    path = verdict_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(verdict.to_dict(), indent=2, default=str, allow_nan=True), encoding="utf-8")
    partial.replace(path)
    return path


def advice(rules: list[Rule], metrics: dict, threshold: dict) -> list[str]:
    """What to try for each kind of failed rule, from the numbers at hand: a first run that ends in "gate FAILED"
    must say why and what next."""
    failed = [rule.name for rule in rules if not rule.passed]
    rate = metrics.get("positive_rate", 0.0)
    tips = []
    decision_rule = any(
        name.split(" ")[0] in ("precision", "recall", "f1", "accuracy") and ("minimum" in name or "lift" in name)
        for name in failed
    )
    if decision_rule:
        tips.append(
            f"decisions: the threshold is {threshold.get('value', DEFAULT_THRESHOLD):.3f} "
            f"(policy {threshold.get('policy', 'fixed 0.5')}) and {rate:.1%} of test rows are positive. Choose it "
            'for your errors under [model.threshold] (policy = "min_recall" with min_recall = 0.6, or "cost" '
            "with cost_ratio = how many false alarms one missed positive is worth), and set [gate] min_lift "
            f"over the trivial baseline rather than fixed minimums (flagging everyone scores F1 "
            f"{trivial_baseline('f1', rate):.3f} here)."
        )
    if any(name.startswith(("roc_auc ≥", "accuracy ≥", "roc_auc lift")) for name in failed):
        tips.append(
            f"ranking: ROC AUC {metrics.get('roc_auc') or float('nan'):.3f} on {metrics.get('test_rows', 0)} test "
            "rows, where 0.5 is chance: this model may have learned nothing, and should not serve. Check that "
            "contract.positive_class is the outcome you mean, that the target is not shuffled or leaked away from "
            "its row, and that features are not mostly empty (`mlrig report`); then more rows, features that carry "
            "the signal, or `mlrig tune`."
        )
    if any("vs champion" in name for name in failed):
        tips.append(
            "champion: the challenger is worse on the same rows; the champion keeps serving. If the data "
            "changed, compare the gold versions in both model cards before retraining."
        )
    if any(" gap by " in name for name in failed):
        tips.append(
            "fairness: one group scores much worse (the card's slice table says which); more rows of it, or "
            "features that describe it, usually help more than a looser gate.max_slice_gap."
        )
    if any(name.startswith("p99") for name in failed):
        tips.append(
            "latency: fewer or shallower trees (model.params.n_estimators, num_leaves), or on a busy shared "
            "machine a wider gate.max_p99_row_ms / max_p99_batch_ms."
        )
    return tips


def verdict_table(verdict: Verdict) -> Table:
    """The table `mlrig gate` prints: one row per rule, the failing ones in red."""
    state = "[green]PASSED[/]" if verdict.passed else "[red]FAILED[/]"
    against = f"champion {verdict.champion}" if verdict.champion else "no champion: absolute rules only"
    table = Table(
        title=f"gate {state}: {verdict.challenger} vs {against} ({verdict.test_rows} test rows of {verdict.gold})",
        title_justify="left",
    )
    for column in ("rule", "value", "limit", "result", "detail"):
        table.add_column(column, justify="right" if column in ("value", "limit") else "left")
    for rule in verdict.rules:
        result = "[green]pass[/]" if rule.passed else "[red]FAIL[/]"
        table.add_row(rule.name, _number(rule.value), _number(rule.limit), result, rule.detail)
    if verdict.notes:
        table.caption = "; ".join(verdict.notes)
    return table


def _number(value: float) -> str:
    """Three decimals, or scientific for the tiny values a few rules have (a probability gap of 1e-16)."""
    return f"{value:.1e}" if value and abs(value) < 0.001 else f"{value:.3f}"
