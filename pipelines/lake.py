"""The lake: named Delta tables under one URL (a local path or s3://…), each write one transaction.

Stages name tables by layer (`Lake.table("silver", "customers")`) and never build paths themselves, so
moving the lake to object storage is a config change. Reads pin a version so lineage can say what was read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

Layer = Literal["bronze", "silver", "quarantine", "gold", "lineage", "predictions"]
WriteMode = Literal["append", "overwrite"]

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


@dataclass(frozen=True)
class TableRef:
    url: str
    layer: Layer
    name: str

    @property
    def uri(self) -> str:
        return f"{self.url.rstrip('/')}/{self.layer}/{self.name}"

    @property
    def label(self) -> str:
        return f"{self.layer}/{self.name}"

    def exists(self) -> bool:
        return DeltaTable.is_deltatable(self.uri, storage_options=storage_options(self.uri))

    def version(self) -> int | None:
        """The current version, or None when the table has never been written."""
        try:
            return DeltaTable(self.uri, storage_options=storage_options(self.uri)).version()
        except TableNotFoundError:
            return None

    def scan(self, version: int | None = None) -> pl.LazyFrame:
        return pl.scan_delta(self.uri, version=version, storage_options=storage_options(self.uri))

    def read(self, version: int | None = None) -> pl.DataFrame:
        return self.scan(version).collect()

    def write(self, frame: pl.DataFrame, mode: WriteMode, partition_by: list[str] | None = None) -> int:
        """Commit `frame` as one transaction and return the new version: readers see all of it or none."""
        options: dict = {"partition_by": partition_by} if partition_by else {}
        frame.write_delta(
            self.uri,
            mode=mode,
            storage_options=storage_options(self.uri),
            delta_write_options={**options, "schema_mode": "overwrite"} if mode == "overwrite" else options,
        )
        return DeltaTable(self.uri, storage_options=storage_options(self.uri)).version()


@dataclass(frozen=True)
class Lake:
    url: str

    def table(self, layer: Layer, name: str) -> TableRef:
        return TableRef(self.url, layer, name)
