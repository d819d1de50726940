"""The pull-request comment: one markdown page from what the CI run really produced.

Reads the pytest JUnit XML and coverage XML, the refine counts from lineage, the newest model's metrics beside
the champion's (BentoML store metadata), the gate verdict JSON and `pulumi preview --json` files. Whatever is
missing is named as missing, never invented. CI posts what `mlrig pr-comment` prints, updating one comment
in place (the marker on the first line is how it finds it).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import Config

MARKER = "<!-- mlrig:pr-comment -->"
HEADLINE_METRICS = ("roc_auc", "f1", "precision", "recall", "accuracy")  # binary; other tasks: their headline


@dataclass(frozen=True)
class Artifacts:
    junit: Path
    coverage: Path
    gate_verdict: Path
    preview_dir: Path


def _shown(path: Path) -> str:
    """The path as a reader of the comment knows it: relative to the checkout when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def tests_section(junit: Path, coverage: Path) -> list[str]:
    lines = ["### Tests"]
    if junit.is_file():
        suites = ET.parse(junit).getroot()  # noqa: S314 — see the import
        totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
        seconds = 0.0
        for suite in suites.iter("testsuite"):
            for key in totals:
                totals[key] += int(suite.get(key, 0))
            seconds += float(suite.get("time", 0))
        failed = totals["failures"] + totals["errors"]
        passed = totals["tests"] - failed - totals["skipped"]
        icon = "✅" if failed == 0 else "❌"
        lines.append(
            f"{icon} {passed} passed, {failed} failed, {totals['skipped']} skipped "
            f"of {totals['tests']} tests in {seconds:.0f} s"
        )
    else:
        lines.append(f"no test report ({junit} is missing)")
    if coverage.is_file():
        root = ET.parse(coverage).getroot()  # noqa: S314 — see the import
        lines.append(f"coverage: {float(root.get('line-rate', 0)) * 100:.1f} % of lines")
    else:
        lines.append(f"no coverage report ({coverage} is missing)")
    return lines


def data_section(config: Config) -> list[str]:
    from pipelines.lake import Lake
    from pipelines.lineage import last_success

    lines = ["### Data checks (refine: bronze → silver + quarantine)"]
    try:
        run = last_success(Lake(config.lake_url), "refine")
    except Exception as err:  # an unreadable lake is reported, not fatal: the comment still has the rest
        return [*lines, f"lineage unreadable: {err}"]
    if run is None:
        return [*lines, "no refine run recorded in lineage"]
    counts = json.loads(run["counts"])
    lines += ["| bronze | silver | quarantined | duplicates |", "|---:|---:|---:|---:|"]
    lines.append(
        f"| {counts.get('bronze', '?')} | {counts.get('silver', '?')} | "
        f"{counts.get('quarantined', '?')} | {counts.get('duplicates', '?')} |"
    )
    lines.append(f"contract `{run['contract_hash']}`, run `{run['run_id']}`")
    return lines


def _stored_model(tag: str) -> tuple[str, dict] | None:
    """(full tag, metadata) of a model in the store, or None when there is no such model."""
    import bentoml

    try:
        model = bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        return None
    return str(model.tag), dict(model.info.metadata)


def _metric(metadata: dict | None, name: str) -> str:
    value = (metadata or {}).get("metrics", {}).get(name)
    return f"{value:.3f}" if isinstance(value, int | float) else "—"


def model_section(config: Config, gate_verdict: Path) -> list[str]:
    from pipelines.ml.register import use_bentoml_home
    from pipelines.ml.registry import ChampionError, fetch_champion

    use_bentoml_home(config.bentoml_home)
    lines = ["### Model"]
    latest = _stored_model(f"{config.model.name}:latest")
    if latest is None:
        return [*lines, f"no model `{config.model.name}` in the store ({config.bentoml_home})"]
    candidate_tag, candidate = latest
    try:  # a fresh CI runner's store lacks the champion: import it from the lake to compare against it
        champion = fetch_champion(config)
    except ChampionError as err:
        champion, lines = None, [*lines, f"champion unavailable: {err}", ""]
    stored_champion = _stored_model(champion) if champion else None
    champion_meta = stored_champion[1] if stored_champion else None
    lines += [
        f"| metric | this run `{candidate_tag}` | champion `{champion or 'none'}` |",
        "|---|---:|---:|",
    ]
    lines += [f"| {m} | {_metric(candidate, m)} | {_metric(champion_meta, m)} |" for m in _headline(config)]
    return [*lines, "", *gate_lines(gate_verdict)]


def _headline(config: Config) -> tuple[str, ...]:
    """The metrics a reviewer compares first: the task's (pipelines/tasks/)."""
    from pipelines.tasks import get_task

    if config.contract.task == "binary":
        return HEADLINE_METRICS
    return tuple(m for m in get_task(config.contract.task).headline if m in get_task(config.contract.task).metrics)


def gate_lines(path: Path) -> list[str]:
    """The gate's verdict JSON: `passed` (bool) or `verdict` (str), and `reasons` or `checks` if it has them."""
    if not path.is_file():
        return [f"**Gate:** no gate verdict ({_shown(path)} is missing)"]
    verdict = json.loads(path.read_text(encoding="utf-8"))
    word = verdict.get("verdict")
    if word is None and "passed" in verdict:
        word = "pass" if verdict["passed"] else "fail"
    lines = [f"**Gate:** {word or 'unknown'}"]
    reasons = verdict.get("reasons") or verdict.get("checks") or []
    if isinstance(reasons, dict):
        reasons = [f"{name}: {value}" for name, value in reasons.items()]
    lines += [f"- {reason}" for reason in reasons]
    return lines


def preview_section(preview_dir: Path) -> list[str]:
    lines = ["### Pulumi preview"]
    files = sorted(preview_dir.glob("*.json")) if preview_dir.is_dir() else []
    if not files:
        return [*lines, "no preview (no Pulumi credentials in this run, or `make preview` did not run)"]
    lines += ["| project | create | update | replace | delete | same |", "|---|---:|---:|---:|---:|---:|"]
    for file in files:
        try:
            summary = json.loads(file.read_text(encoding="utf-8")).get("changeSummary", {})
        except json.JSONDecodeError:
            lines.append(f"| {file.stem} | preview output is not JSON: see the job log | | | | |")
            continue
        ops = [summary.get(op, 0) for op in ("create", "update", "replace", "delete", "same")]
        lines.append(f"| {file.stem} | " + " | ".join(str(n) for n in ops) + " |")
    return lines


def render(config: Config, artifacts: Artifacts, title: str = "mlrig CI") -> str:
    sections = [
        [MARKER, f"## {title}"],
        tests_section(artifacts.junit, artifacts.coverage),
        data_section(config),
        model_section(config, artifacts.gate_verdict),
        preview_section(artifacts.preview_dir),
    ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"
