"""Where raw drops land: a local folder, or a prefix in the object store the lake lives in (s3://bucket/raw).

In a cluster a pod's disk is empty and gone when it ends, so drops must arrive where every Job can read them:
the platform's store, reached with the lake's own S3 settings (`lake_files.filesystem_of`: credentials and
endpoint from the environment). Locally, only regular files are read (`raw_files`), so a FIFO or a device named
like a drop is refused unopened. Only the folder's own files are drops: sub-folders are not searched.
"""

from __future__ import annotations

import fnmatch
import tempfile
from pathlib import Path

from pyarrow import fs

from pipelines import lake_files
from pipelines.config import Contract
from pipelines.data.raw_files import RawFileError, read_bytes
from pipelines.demo import DirtReport, generate_raw_drops


class DropFolder:
    """The files directly inside one raw location, by name."""

    def __init__(self, url: str | Path) -> None:
        self.url = str(url).rstrip("/") or "/"
        self._remote = lake_files.filesystem_of(self.url)

    def __str__(self) -> str:
        return self.url

    def location(self, name: str) -> str:
        """The drop's full path or URL, as messages name it."""
        return str(Path(self.url) / name) if self._remote is None else f"{self.url}/{name}"

    def names(self, patterns: tuple[str, ...] = ("*",)) -> list[str]:
        """Names of the entries matching any of `patterns` (case-sensitive, like the shell), sorted. Locally every
        entry counts, so one that is not a regular file is refused by name when read rather than passed over."""
        if self._remote is None:
            folder = Path(self.url)
            found = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        else:
            filesystem, prefix = self._remote
            try:
                infos = filesystem.get_file_info(fs.FileSelector(prefix, allow_not_found=True))
            except OSError as err:
                message = f"{self.url}: cannot be listed ({err}). Check the store's address and keys."
                raise RawFileError(message) from err
            found = [i.base_name for i in infos if i.type == fs.FileType.File]
        return sorted({n for n in found if any(fnmatch.fnmatchcase(n, p) for p in patterns)})

    def read(self, name: str) -> bytes:
        if self._remote is None:
            return read_bytes(Path(self.url) / name)
        try:
            data = lake_files.read_bytes(self.location(name))
        except OSError as err:
            raise RawFileError(f"{self.location(name)}: cannot be read ({err}). Check the store's keys.") from err
        if data is None:
            raise RawFileError(f"{self.location(name)}: disappeared while it was being read. Run again.")
        return data

    def add(self, source: Path) -> str:
        """Copy a local file in under its own name (atomically: readers see all of it or none); its location."""
        target = self.location(source.name)
        if Path(target) != source:
            try:
                lake_files.upload(source, target)
            except OSError as err:
                raise RawFileError(f"{target}: cannot be written ({err}). Check the store's address and keys.") from err
        return target


def generate_demo_drops(contract: Contract, raw_url: str, **options: object) -> DirtReport:
    """The demo drops where drops land: written in place in a folder; for an object-store prefix written to a
    scratch folder, then uploaded one by one (each appears whole or not at all)."""
    if "://" not in raw_url:
        return generate_raw_drops(contract, Path(raw_url), **options)
    folder = DropFolder(raw_url)
    with tempfile.TemporaryDirectory(prefix="mlrig-drops-") as scratch:
        report = generate_raw_drops(contract, Path(scratch), **options)
        report.files = [folder.add(Path(path)) for path in report.files]
    return report
