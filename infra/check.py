"""`python -m infra.check DIR`: render every Kubernetes object the four projects declare, for every stack,
to YAML under DIR (one file per project and stack), and validate each against the Kubernetes OpenAPI schema
(kubernetes-validate, strict). `make infra-check` then scans DIR with checkov.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import yaml

from infra.testing import every_run

KUBERNETES_VERSION = "1.37.0"  # the newest release kubernetes-validate bundles schemas for

# kubernetes-validate re-reads the schema files for every object; they never change within a run.
kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(kubernetes_validate.utils.schema_contents)


def validate(manifest: dict[str, Any], version: str = KUBERNETES_VERSION) -> None:
    """Raises kubernetes_validate.ValidationError (an unknown field is an error: strict)."""
    kubernetes_validate.validate(manifest, version, strict=True)


def render(out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Writes `<project>-<stack>.yaml` per program run; returns the manifests by file name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rendered: dict[str, list[dict[str, Any]]] = {}
    for run in every_run():
        manifests = [d.manifest() for d in run.mocks.kubernetes_objects()]
        name = f"{run.project}-{run.stack}.yaml"
        (out_dir / name).write_text(yaml.safe_dump_all(manifests, sort_keys=False), encoding="utf-8")
        rendered[name] = manifests
    return rendered


def checkov_report(report: Path, config: Path) -> int:
    """Print checkov's counts and each configured skip with its reason; non-zero if any check failed."""
    data = json.loads(report.read_text(encoding="utf-8"))
    results = data if isinstance(data, list) else [data]
    summary = {k: sum(r.get("summary", {}).get(k, 0) for r in results) for k in ("passed", "failed", "skipped")}
    skips = re.findall(r"^\s*-\s*(CKV_\w+)\s*#\s*(.+)$", config.read_text(encoding="utf-8"), re.MULTILINE)
    for r in results:
        for check in r.get("results", {}).get("failed_checks", []):
            print(f"FAILED {check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}")
    print(
        f"checkov (kubernetes): {summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['skipped']} skipped inline"
    )
    print(f"skipped by {config} ({len(skips)}):")
    for check_id, reason in skips:
        print(f"  {check_id}: {reason}")
    return 1 if summary["failed"] else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--checkov-report"]:
        return checkov_report(Path(argv[1]), Path(argv[2]))
    out_dir = Path(argv[0] if argv else ".cache/infra/manifests")
    rendered = render(out_dir)
    failures = 0
    for name, manifests in rendered.items():
        for m in manifests:
            try:
                validate(m)
            except kubernetes_validate.ValidationError as err:
                failures += 1
                print(f"INVALID {name}: {m['kind']}/{m['metadata'].get('name')}: {err}", file=sys.stderr)
    total = sum(len(m) for m in rendered.values())
    print(
        f"kubernetes-validate {KUBERNETES_VERSION} strict: {total - failures}/{total} objects valid "
        f"({len(rendered)} program runs, written to {out_dir})"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
