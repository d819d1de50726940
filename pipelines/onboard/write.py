"""Writes a proposed contract into the project config, with the reason for every choice as a comment, and
tells what changed when a contract is already there instead of silently replacing it.

Only `[contract]`, how raw files are read (`[storage]`) and the settings that name columns are written; the
rest of the config (lake, model, serving, …) is kept as the user has it, comments included (tomlkit round-trips
them).
"""

from __future__ import annotations

from pathlib import Path

import tomlkit
from tomlkit.items import Table

from pipelines.onboard.infer import ProposedContract
from pipelines.onboard.sniff import Sample
from pipelines.tasks.binary.lift import trivial_baseline


def _set_storage(document: tomlkit.TOMLDocument, sample: Sample) -> None:
    """How the raw files are read, as detected from the sample: [storage] is where ingest looks."""
    storage = document.setdefault("storage", tomlkit.table())
    storage["format"] = sample.format
    for key, value in (("delimiter", sample.delimiter), ("encoding", sample.encoding)):
        if value:
            storage[key] = value
        elif key in storage:
            del storage[key]


def contract_table(proposed: ProposedContract) -> Table:
    table = tomlkit.table()
    table.add(
        tomlkit.comment(
            f"Proposed by `mlrig init` from {proposed.rows_sampled:,} sampled rows: review every "
            "column before the first run."
        )
    )
    table.add("dataset", proposed.dataset)
    table.add("target", proposed.target)
    if proposed.task == "binary":
        table.add("positive_class", proposed.positive_class)
    else:
        table.add("task", proposed.task)
        table.add(tomlkit.comment("a numeric target with many values: regression (set task = 'binary' otherwise)"))
    if proposed.entity_key:
        table.add("entity_key", proposed.entity_key)
    else:
        table.add(
            tomlkit.comment(
                "no entity key found: each row is its own entity, split at random (set entity_key if one "
                "customer has several rows)"
            )
        )
    if proposed.event_time:
        table.add("event_time", proposed.event_time)
    else:
        table.add(tomlkit.comment("no event time: snapshots; the ingest time stands in where a time is needed"))
    if proposed.duplicate_key:
        table.add("duplicate_key", proposed.duplicate_key)
    else:
        table.add(tomlkit.comment("no duplicate_key: a duplicate is the same row exported again (every column)"))
    columns = tomlkit.table(is_super_table=True)
    for column in proposed.columns:
        entry = tomlkit.table()
        for note in column.notes:
            entry.add(tomlkit.comment(note))
        for key, value in column.as_config().items():
            entry.add(key, value)
        columns.add(column.name, entry)
    table.add("columns", columns)
    return table


def _set_names(document: tomlkit.TOMLDocument, dataset: str, task: str = "binary") -> None:
    """A new dataset gets its own model and service names, so its models never mix with another's in a store."""
    name = dataset.replace("_", "-")
    kind = "classifier" if task == "binary" else "regressor"
    for section, key, value in (
        ("project", "name", dataset),
        ("model", "name", f"{name}-{kind}"),
        ("serving", "service_name", f"{name}-scorer"),
    ):
        if section in document:
            document[section][key] = value


def _set_column_settings(document: tomlkit.TOMLDocument, proposed: ProposedContract) -> None:
    """Settings elsewhere that name columns ([business], model.slices) must name this contract's columns."""
    business = document.setdefault("business", tomlkit.table())
    business["segment_by"] = proposed.segment_by
    if proposed.value_column:
        business["value_column"] = proposed.value_column
    elif "value_column" in business:
        del business["value_column"]
    model = document.get("model")
    if model is not None and "slices" in model:
        model["slices"] = proposed.segment_by


def _add_lift_rules(gate: Table, proposed: ProposedContract) -> None:
    """min_lift and lift_confidence, with the reasons for them (docs/onboarding.md says more)."""
    if proposed.task == "regression":
        _add_regression_lift_rules(gate)
        return
    for line in (
        "init: a model must beat what needs no model, by more than the noise of the test rows",
        "  (pipelines/tasks/binary/lift.py):",
        "  roc_auc: chance is 0.5; the 95 % lower bound of the lift (stratified bootstrap of the test rows) must",
        "  exceed 0: a model with no signal fails, a weak real one passes. A fixed margin (0.6) is too loose on a few",
        "  hundred rows (a no-signal model reaches 0.55 one time in ten with 60 positives) and too strict on many.",
        f"  f1: flagging everyone scores {trivial_baseline('f1', proposed.positive_rate):.3f} at the sample's "
        f"{proposed.positive_rate:.1%} positives; decisions must beat it on",
        "  the median resample: a rare class leaves too few test positives to be 95 % sure of an F1 difference.",
    ):
        gate.add(tomlkit.comment(line))
    lift = tomlkit.inline_table()
    lift.update({"roc_auc": 0.0, "f1": 0.0})
    gate.add("min_lift", lift)
    confidence = tomlkit.inline_table()
    confidence.update({"roc_auc": 0.95, "f1": 0.5})
    gate.add("lift_confidence", confidence)


def _add_regression_lift_rules(gate: Table) -> None:
    for line in (
        "init: a model must beat the constant that needs no model, by more than the noise of the test rows",
        "  (pipelines/tasks/regression.py): rmse against predicting the mean, at the 95 % lower bound of a",
        "  bootstrap of the test rows; mae against predicting the median, on the median resample.",
    ):
        gate.add(tomlkit.comment(line))
    lift = tomlkit.inline_table()
    lift.update({"rmse": 0.0, "mae": 0.0})
    gate.add("min_lift", lift)
    confidence = tomlkit.inline_table()
    confidence.update({"rmse": 0.95, "mae": 0.5})
    gate.add("lift_confidence", confidence)


def _set_regression_rules(document: tomlkit.TOMLDocument) -> None:
    """What a regression gate and monitoring check beyond the lift: scale-free comparisons with the champion (R²,
    since an RMSE limit is in the target's unit), no decision threshold, RMSE and residual drift on outcomes."""
    gate = document["gate"]
    gate["max_regression"] = tomlkit.inline_table()
    gate["max_regression"].update({"r2": 0.01})
    gate["max_regression"].comment("init: how far below the champion's R², on the same test rows")
    gate["max_slice_gap"].comment("init: add e.g. r2 = 0.2 once every slice group has enough test rows")
    model = document["model"]
    if "threshold" in model:
        del model["threshold"]  # a regressor decides nothing
    monitoring = document.setdefault("monitoring", tomlkit.table())
    for key in ("min_roc_auc", "max_roc_auc_drop"):
        if key in monitoring:
            del monitoring[key]
    monitoring["max_rmse_rise"] = 0.25
    monitoring["max_rmse_rise"].comment("init: late outcomes' RMSE may exceed the test RMSE by 25 % before retraining")
    monitoring["max_residual_ks"] = 0.2
    monitoring["max_residual_ks"].comment("init: residual drift, late residuals vs the test residuals (KS)")


def _set_decisions(document: tomlkit.TOMLDocument, proposed: ProposedContract) -> None:
    """[gate] rules relative to trivial baselines, judged on the test rows, and the threshold policy: the demo's
    churn minimums (ROC AUC 0.75) mean nothing for a 5 % default rate, where a real but weak model ranks at 0.63."""
    old_gate = document.setdefault("gate", tomlkit.table())
    gate = tomlkit.table()  # rebuilt so the lift rules sit beside min_metrics, not after the next section's notes
    for key, item in old_gate.value.body:
        if key is None:
            gate.add(item)  # comments and blank lines, where they were
            continue
        if key.key in ("min_lift", "lift_confidence"):
            continue
        gate.add(key.key, item)
        if key.key == "min_metrics":
            _add_lift_rules(gate, proposed)
    if "min_metrics" not in gate:
        _add_lift_rules(gate, proposed)
    document["gate"] = gate
    gate["min_metrics"] = tomlkit.inline_table()
    gate["min_metrics"].comment("init: absolute floors; add them once you know what a useful model reaches")
    gate["max_slice_gap"] = tomlkit.inline_table()
    gate["max_slice_gap"].comment("init: add e.g. roc_auc = 0.15 once every slice group has enough test rows")
    model = document.setdefault("model", tomlkit.table())
    threshold = tomlkit.table()
    threshold.add(
        tomlkit.comment(
            "max_f1 | cost (cost_ratio = misses worth one false alarm) | min_precision | min_recall | fixed (value)"
        )
    )
    threshold.add("policy", "max_f1")
    model["threshold"] = threshold
    monitoring = document.setdefault("monitoring", tomlkit.table())
    monitoring["min_roc_auc"] = 0.5
    monitoring["min_roc_auc"].comment(
        "init: chance; the drop from the model's own training AUC (max_roc_auc_drop) is the alarm that fits"
    )


def render_config(proposed: ProposedContract, sample: Sample, base: str) -> str:
    """The base config's text with [contract] replaced by the proposal, [storage] reading the files as
    sampled, and the settings that name columns pointed at this contract's."""
    document = tomlkit.parse(base)
    if "contract" in document:
        del document["contract"]
    _set_storage(document, sample)
    document.add("contract", contract_table(proposed))
    _set_column_settings(document, proposed)
    _set_decisions(document, proposed)
    if proposed.task == "regression":
        _set_regression_rules(document)
    _set_names(document, proposed.dataset, proposed.task)
    return tomlkit.dumps(document)


COLUMN_DEFAULTS = {"role": "feature", "nullable": False, "pii": None}  # as pipelines/config.py reads them


def _column_changes(name: str, old: dict, new: dict) -> list[str]:
    old, new = {**COLUMN_DEFAULTS, **old}, {**COLUMN_DEFAULTS, **new}
    changes = []
    for key in ("dtype", "role", "pii", "nullable", "format"):
        if old.get(key) != new.get(key):
            changes.append(f"{name}: {key} {old.get(key)!r} → {new.get(key)!r}")
    for key in ("min", "max"):
        if old.get(key) != new.get(key) and (old.get(key) is not None or new.get(key) is not None):
            changes.append(f"{name}: {key} {old.get(key)} → {new.get(key)}")
    added = sorted(set(new.get("allowed") or []) - set(old.get("allowed") or []))
    removed = sorted(set(old.get("allowed") or []) - set(new.get("allowed") or []))
    if added:
        changes.append(f"{name}: new values {added}")
    if removed:
        changes.append(f"{name}: values no longer seen {removed}")
    return changes


def contract_changes(old_config: str, new_config: str) -> list[str]:
    """What a re-run of init would change in the contract, one line per change."""
    old = tomlkit.parse(old_config).get("contract", {})
    new = tomlkit.parse(new_config).get("contract", {})
    changes = [
        f"{key}: {old.get(key)!r} → {new.get(key)!r}"
        for key in ("target", "task", "positive_class", "entity_key", "event_time", "duplicate_key")
        if old.get(key) != new.get(key)
    ]
    old_columns, new_columns = dict(old.get("columns", {})), dict(new.get("columns", {}))
    changes += [f"new column {name}" for name in new_columns if name not in old_columns]
    changes += [f"column {name} is gone" for name in old_columns if name not in new_columns]
    for name in [n for n in new_columns if n in old_columns]:
        changes += _column_changes(name, dict(old_columns[name]), dict(new_columns[name]))
    return changes


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
