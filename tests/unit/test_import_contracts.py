"""The import contracts in pyproject.toml ([tool.importlinter]) hold on this tree, and would catch a breach.

`make lint` runs lint-imports on the repository; these tests prove the contracts have teeth: a copy of the code with
one upward import, or one import cycle, planted in it must fail, naming the contract it breaks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mlrig_cli", "infra", "service", "pipelines")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    only = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *only], cwd=tree, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the four packages' Python files and the contracts: a place to plant a bad import."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def plant(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n\n{line}\n", encoding="utf-8")


def test_the_repository_keeps_every_import_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " BROKEN" not in result.stdout and "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("pipelines/lake.py", "from service import schema  # noqa", "layers"),
        ("service/schema.py", "def _late():\n    from infra import sizing  # noqa", "layers"),
        ("infra/sizing.py", "import mlrig_cli.app  # noqa", "layers"),
        ("pipelines/ml/register.py", "def _late():\n    from pipelines.ml import registry  # noqa", "no-cycles"),
        ("pipelines/data/refine.py", "from pipelines.ml import gate  # noqa", "pipeline-stages"),
        ("pipelines/config.py", "import pipelines.data.ingest  # noqa", "pipeline-core"),
    ],
)
def test_a_planted_upward_import_or_cycle_breaks_its_contract(tree, module, line, contract):
    assert lint_imports(tree, contract).returncode == 0  # kept before the planted line
    plant(tree / module, line)
    result = lint_imports(tree, contract)
    assert result.returncode == 1 and "1 broken" in result.stdout, result.stdout
