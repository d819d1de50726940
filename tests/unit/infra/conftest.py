"""The recording-mocks fixture: each call runs a project's `__main__.py` fresh under Pulumi's mocks for one stack.

`run_project("serving", "prod")` resets the runtime, loads `infra/serving/Pulumi.prod.yaml` as the stack config,
answers StackReferences from the shared output keys, and returns every declared resource's inputs (wire names,
camelCase) and the program's exports. Assertions then run on plain data, so none can be silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from infra.settings import STACKS
from infra.testing import PROJECTS, ProgramRun, run_program

_CACHE: dict[tuple[str, str], ProgramRun] = {}


@pytest.fixture
def run_project() -> Callable[..., ProgramRun]:
    """Run a program with any overrides (config, secrets, stack_outputs): never cached."""
    return run_program


@pytest.fixture(scope="session")
def stack_runs() -> dict[tuple[str, str], ProgramRun]:
    """Every project × stack with its own stack file, run once per session (the results are plain data)."""
    if not _CACHE:
        for stack in STACKS:
            for project in PROJECTS:
                _CACHE[(project, stack)] = run_program(project, stack)
    return _CACHE
