"""A GitHub-hosted job runs as the non-root `runner` with passwordless sudo (issue 16, item 1): making the base
image's root filesystem must go through `sudo -n` there, and still produce the same tarball."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from infra.images import base
from pipelines.config import load_config

FAKE_SUDO = """#!/bin/sh
echo "sudo $*" >> "$SUDO_LOG"
[ "$1" = "-n" ] || { echo "sudo: a password is required" >&2; exit 1; }
shift
exec "$@"
"""
FAKE_DEBOOTSTRAP = """#!/bin/sh
# debootstrap ... SUITE TARGET MIRROR: a tiny root filesystem with a doc folder the base prunes
target="$4"
mkdir -p "$target/usr/share/doc/python3" "$target/etc"
echo secret > "$target/etc/shadow"; chmod 600 "$target/etc/shadow"
echo readme > "$target/usr/share/doc/python3/README"
"""


@pytest.fixture
def non_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in (("sudo", FAKE_SUDO), ("debootstrap", FAKE_DEBOOTSTRAP)):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("SUDO_LOG", str(tmp_path / "sudo.log"))
    monkeypatch.setattr(base.os, "geteuid", lambda: 1001)
    monkeypatch.setattr(base, "cache_root", lambda: tmp_path / "cache")
    return tmp_path / "sudo.log"


def test_the_root_steps_go_through_sudo_n_and_make_the_same_tarball(non_root: Path) -> None:
    tarball = base.base_tarball(load_config().images)

    calls = non_root.read_text().splitlines()
    assert calls[0].startswith("sudo -n debootstrap --variant=minbase")
    assert all(call.startswith("sudo -n ") for call in calls)
    assert any(call.startswith("sudo -n tar -C ") for call in calls)
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert "./etc/shadow" in names
    assert not any(name.startswith("./usr/share/doc") for name in names)


def test_as_root_is_the_command_itself_for_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base.os, "geteuid", lambda: 0)
    assert base.as_root(["debootstrap", "x"]) == ["debootstrap", "x"]
