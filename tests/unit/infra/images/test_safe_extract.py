"""Unpacking the Bento works on Python 3.11.2 too (Debian bookworm's python3: what a non-root runner without pyenv
has, found by running the release as the runner), refusing the same members the "data" filter refuses."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from infra.images import build
from infra.images.errors import ImageError


def _archive(tmp_path: Path, name: str, *, link: str | None = None) -> Path:
    path = tmp_path / "a.tar"
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo(name)
        if link:
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
        else:
            info.size = 2
            tar.addfile(info, io.BytesIO(b"ok"))
    return path


@pytest.mark.parametrize("filters", [True, False])
def test_a_plain_member_is_unpacked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, filters: bool) -> None:
    if not filters:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    with tarfile.open(_archive(tmp_path, "bento/bento.yaml")) as tar:
        build.safe_extract(tar, tmp_path / "out")
    assert (tmp_path / "out" / "bento" / "bento.yaml").read_bytes() == b"ok"


@pytest.mark.parametrize(
    ("name", "link"), [("../escape", None), ("/abs", None), ("l", "/etc/passwd"), ("l", "../../x")]
)
def test_escaping_members_are_refused_without_filters(tmp_path: Path, monkeypatch, name: str, link: str | None) -> None:
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    with tarfile.open(_archive(tmp_path, name, link=link)) as tar, pytest.raises(ImageError, match="refusing"):
        build.safe_extract(tar, tmp_path / "out")
