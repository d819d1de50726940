"""The `mlrig` command's entry point: the Typer app behind a last-resort handler.

Each command turns the errors it expects into a sentence and a next step. Anything else is a bug, and a user
should still get one clear line rather than a traceback: the traceback goes to a file the line names, for the bug
report. `MLRIG_TRACEBACK=1` prints it instead (the pipeline image sets it: a Job's log is all an operator keeps).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import traceback
from pathlib import Path

from mlrig_cli.app import app

TRACEBACK_ENV = "MLRIG_TRACEBACK"


def _save_traceback(error: BaseException) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    fd, name = tempfile.mkstemp(prefix=f"mlrig-error-{stamp}-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"mlrig {' '.join(sys.argv[1:])}\n\n")
        out.write("".join(traceback.format_exception(error)))
    return Path(name)


def main() -> None:
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        print("mlrig: interrupted; every stage commits atomically, so run the same command again.", file=sys.stderr)
        sys.exit(130)
    except Exception as error:  # the last resort: every expected error is handled by its command
        summary = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        if os.environ.get(TRACEBACK_ENV) == "1":
            traceback.print_exception(error, file=sys.stderr)
            where = "the traceback is above"
        else:
            where = f"the traceback is in {_save_traceback(error)} (set {TRACEBACK_ENV}=1 to print it)"
        print(f"mlrig: unexpected error ({summary}). This is a bug: {where}; please report it.", file=sys.stderr)
        sys.exit(1)
