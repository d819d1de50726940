"""Whole files in the lake, beside its Delta tables: the champion pointer and exported models.

A URL is a local path or s3://bucket/key, like the lake's own, and S3 is reached with the lake's settings
(`storage_options`: credentials and endpoint from the environment), so whatever can write the lake can write these.
Writes are atomic, so a reader never sees half a file: locally a temporary sibling is renamed over the target; on
S3 an object appears only when its upload completes (one PUT, or one completed multipart upload), and the previous
object is served until that moment. pyarrow does the S3 I/O: it is already a runtime dependency, where
fsspec's s3fs would be one more (and is not installed).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from pyarrow import fs

_CHUNK_BYTES = 8 * 1024 * 1024

# S3 settings read from the environment, in the names object stores and their SDKs already use.
_S3_ENV = {
    "AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
    "AWS_REGION": "aws_region",
    "AWS_ENDPOINT_URL": "aws_endpoint_url",
    "AWS_SESSION_TOKEN": "aws_session_token",
}


def storage_options(url: str) -> dict[str, str] | None:
    """Credentials for an object-store lake come from the environment, never from the config file."""
    if not url.startswith("s3://"):
        return None
    options = {key: os.environ[env] for env, key in _S3_ENV.items() if os.environ.get(env)}
    if options.get("aws_endpoint_url", "").startswith("http://"):
        options["aws_allow_http"] = "true"  # an in-cluster or test object store without TLS
    options.setdefault("aws_conditional_put", "etag")  # safe concurrent commits without a lock table
    return options


def filesystem_of(url: str) -> tuple[fs.FileSystem, str] | None:
    """The filesystem and path for a URL with a scheme; None for a local path."""
    if "://" not in url:
        return None
    if url.startswith("s3://"):
        options = storage_options(url) or {}
        s3 = fs.S3FileSystem(
            access_key=options.get("aws_access_key_id"),  # unset: the SDK's default chain (e.g. a pod identity)
            secret_key=options.get("aws_secret_access_key"),
            session_token=options.get("aws_session_token"),
            region=options.get("aws_region"),
            endpoint_override=options.get("aws_endpoint_url"),
        )
        return s3, url.removeprefix("s3://")
    return fs.FileSystem.from_uri(url)


def _replace_locally(target: Path, fill: Callable[[Path], object]) -> None:
    """Fill a temporary sibling, then rename it over `target`: a rename within one folder is atomic."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")  # unique: concurrent writers never share one
    try:
        fill(tmp)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def read_bytes(url: str) -> bytes | None:
    """The file's content, or None when there is no such file."""
    remote = filesystem_of(url)
    try:
        if remote is None:
            return Path(url).read_bytes()
        filesystem, path = remote
        with filesystem.open_input_stream(path) as stream:
            return stream.read()
    except FileNotFoundError:
        return None


def write_bytes(url: str, data: bytes) -> None:
    """Replace the file with `data` atomically (see the module docstring)."""
    remote = filesystem_of(url)
    if remote is None:
        _replace_locally(Path(url), lambda tmp: tmp.write_bytes(data))
        return
    filesystem, path = remote
    with filesystem.open_output_stream(path) as out:
        out.write(data)


def upload(source: Path, url: str) -> None:
    """Copy a local file to `url`, atomically like `write_bytes`, without holding it all in memory."""
    remote = filesystem_of(url)
    if remote is None:
        _replace_locally(Path(url), lambda tmp: shutil.copyfile(source, tmp))
        return
    filesystem, path = remote
    with source.open("rb") as local, filesystem.open_output_stream(path) as out:
        while chunk := local.read(_CHUNK_BYTES):
            out.write(chunk)


def download(url: str, target: Path) -> None:
    """Copy `url` to a local file; FileNotFoundError when there is no such file."""
    remote = filesystem_of(url)
    if remote is None:
        shutil.copyfile(url, target)
        return
    filesystem, path = remote
    with filesystem.open_input_stream(path) as stream, target.open("wb") as local:
        while chunk := stream.read(_CHUNK_BYTES):
            local.write(chunk)


def delete(url: str) -> None:
    """Remove the file if it is there."""
    remote = filesystem_of(url)
    try:
        if remote is None:
            Path(url).unlink(missing_ok=True)
        else:
            filesystem, path = remote
            filesystem.delete_file(path)
    except FileNotFoundError:
        return
