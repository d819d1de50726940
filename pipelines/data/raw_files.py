"""Opening a file someone dropped: only a regular file is read, and nothing that is not one is ever opened.

A FIFO named `x.csv` would block a reader forever; a device could stream without end; a directory, a dangling
link or a link loop makes `open` raise. Each is refused with a message naming the file. Files are opened
non-blocking and checked again on the open descriptor, so a file swapped for a FIFO after the check cannot hang
the run either.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class RawFileError(ValueError):
    """A dropped path that is not a readable regular file; the message names it and says what to do."""


def _refuse(path: Path, what: str) -> RawFileError:
    return RawFileError(
        f"{path}: {what}, not a regular file. Remove it from the drop folder (or replace it with the export "
        "itself); nothing was read from it."
    )


def _kind(mode: int) -> str | None:
    return next((name for test, name in _KINDS if test(mode)), None)


def check_regular(path: Path) -> None:
    """Refuse `path` unless it is (or links to) a regular file, without opening it."""
    try:
        mode = path.stat().st_mode
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise _refuse(path, "a symbolic link loop") from err
        if path.is_symlink():
            raise _refuse(path, f"a symbolic link to {path.readlink()}, which does not exist") from err
        raise RawFileError(f"{path}: cannot be read ({err.strerror}). Check it exists and is readable.") from err
    kind = _kind(mode)
    if kind is not None or not stat.S_ISREG(mode):
        raise _refuse(path, kind or "a special file")


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes (the first `limit` of them), refusing anything that is not a regular file."""
    check_regular(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise RawFileError(f"{path}: cannot be opened ({err.strerror}). Check its permissions.") from err
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):  # swapped between the check and the open
            raise _refuse(path, _kind(mode) or "a special file")
        return handle.read() if limit is None else handle.read(limit)
