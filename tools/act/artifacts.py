"""Artifact stand-ins for act (tools/act/stand-ins.toml): upload copies files to $MLRIG_ACT_ARTIFACTS/<name>/,
download copies them back, as actions/upload-artifact and download-artifact do on GitHub.

Standard library only: it runs on the host's python3 before `make install`. Upload keeps paths relative to the
files' common folder, as upload-artifact does, so a download into that folder restores them where they were.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def store(name: str) -> Path:
    root = os.environ.get("MLRIG_ACT_ARTIFACTS")
    if not root:
        sys.exit("::error::MLRIG_ACT_ARTIFACTS is not set: the local run (tools/act/run.py) sets it")
    return Path(root) / name


def upload(name: str, if_none: str, paths: str) -> int:
    found = [Path(p.strip()) for p in paths.splitlines() if p.strip() and Path(p.strip()).exists()]
    if not found:
        message = f"upload-artifact stand-in: no files for {name} ({paths.strip()!r})"
        if if_none == "error":
            print(f"::error::{message}")
            return 1
        if if_none != "ignore":
            print(f"::warning::{message}")
        return 0
    absolute = [p.resolve() for p in found]
    common = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in absolute]))
    target = store(name)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for path in absolute:
        destination = partial / path.relative_to(common)
        if path.is_dir():
            shutil.copytree(path, destination, dirs_exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    print(f"upload-artifact (stand-in): {name} → {target} ({len(found)} paths)")
    return 0


def download(name: str, destination: str) -> int:
    source = store(name)
    if not source.is_dir():
        print(f"::error::download-artifact stand-in: no artifact {name} was uploaded in this run")
        return 1
    shutil.copytree(source, destination, dirs_exist_ok=True)
    print(f"download-artifact (stand-in): {name} → {destination}")
    return 0


if __name__ == "__main__":
    verb, *args = sys.argv[1:]
    sys.exit(upload(*args) if verb == "upload" else download(*args))
