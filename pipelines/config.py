"""Reads the project configuration (mlrig.toml) into typed objects: the one place that parses it.

Everything else (validation schemas, the service's request model, feature lists, tests) derives from
these objects, so a column is renamed in one file. A bad config fails here, naming the key to fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CONFIG_ENV = "MLRIG_CONFIG"
WORK_DIR_ENV = "MLRIG_WORK_DIR"  # overrides storage.work_dir: isolated runs (tests, CI) with the real contract
DEFAULT_CONFIG = Path("mlrig.toml")

DType = Literal["string", "int", "float", "bool", "category", "datetime"]
Role = Literal["feature", "id", "target", "timestamp", "attribute"]
PiiTreatment = Literal["drop", "pseudonymize"]


class ConfigError(ValueError):
    """The project configuration is missing or wrong; the message says which key and how to fix it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Strict):
    name: str = ""
    dtype: DType
    role: Role = "feature"
    pii: PiiTreatment | None = None
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.dtype == "category" and not self.allowed:
            raise ValueError("a category column needs `allowed` (its closed set of values)")
        if self.allowed and self.dtype != "category":
            raise ValueError("`allowed` only applies to dtype = 'category'")
        if (self.min is not None or self.max is not None) and self.dtype not in ("int", "float"):
            raise ValueError("`min`/`max` only apply to int and float columns")
        if self.pii and self.role == "feature":
            raise ValueError("a PII column cannot be a model feature; give it role = 'attribute' or 'id'")
        return self


class Contract(_Strict):
    dataset: str
    target: str
    positive_class: str
    entity_key: str
    event_time: str
    duplicate_key: tuple[str, ...]
    columns: dict[str, Column]

    @model_validator(mode="before")
    @classmethod
    def _name_columns(cls, data: dict) -> dict:
        columns = data.get("columns", {})
        data["columns"] = {name: {**spec, "name": name} for name, spec in columns.items()}
        return data

    @model_validator(mode="after")
    def _references_exist(self) -> Self:
        for key in (self.target, self.entity_key, self.event_time, *self.duplicate_key):
            if key not in self.columns:
                raise ValueError(f"contract refers to column {key!r}, which is not in [contract.columns]")
        target = self.columns[self.target]
        if target.role != "target":
            raise ValueError(f"column {self.target!r} is the target: set role = 'target' on it")
        if target.allowed and self.positive_class not in target.allowed:
            raise ValueError(f"positive_class {self.positive_class!r} is not one of {list(target.allowed)}")
        return self

    @property
    def features(self) -> list[Column]:
        return [c for c in self.columns.values() if c.role == "feature"]

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]

    @property
    def pii_columns(self) -> list[Column]:
        return [c for c in self.columns.values() if c.pii]

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the contract, recorded in lineage and on models so mismatches are detectable."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


class Storage(_Strict):
    work_dir: Path = Path(".mlrig")
    lake: str = "lake"
    raw: str = "raw"


class ModelSettings(_Strict):
    name: str
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 42
    params: dict[str, float | int | str] = Field(default_factory=dict)


class ServingSettings(_Strict):
    service_name: str
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)
    timeout_s: int = Field(10, ge=1)
    max_batch_rows: int = Field(1000, ge=1)
    max_body_bytes: int = Field(1_048_576, ge=1024)


class ImagesSettings(_Strict):
    """Container images: the pinned base, how a local base is made, names and the non-root user."""

    base_image: str = "localhost/mlrig-base:bookworm-py311-2"
    base_suite: str = "bookworm"
    base_packages: tuple[str, ...] = ("python3", "python3-venv", "ca-certificates", "libgomp1")
    debian_mirror: str = "http://deb.debian.org/debian"
    registry: str = "ghcr.io/mlrig"
    serving_name: str = "churn-scorer"
    pipeline_name: str = "mlrig-pipeline"
    user_uid: int = Field(10001, ge=1)  # never 0: the images run as a non-root user


class ProjectInfo(_Strict):
    name: str
    description: str = ""


class Config(_Strict):
    project: ProjectInfo
    storage: Storage = Storage()
    contract: Contract
    model: ModelSettings
    serving: ServingSettings
    images: ImagesSettings = ImagesSettings()
    source: Path = Path("mlrig.toml")

    @property
    def work_dir(self) -> Path:
        """The work folder: $MLRIG_WORK_DIR, else storage.work_dir relative to the config file's folder."""
        work = Path(os.environ.get(WORK_DIR_ENV) or self.storage.work_dir)
        return work if work.is_absolute() else (self.source.parent / work).resolve()

    @property
    def lake_url(self) -> str:
        lake = self.storage.lake
        if "://" in lake or Path(lake).is_absolute():
            return lake
        return str(self.work_dir / lake)

    @property
    def raw_dir(self) -> Path:
        raw = Path(self.storage.raw)
        return raw if raw.is_absolute() else self.work_dir / raw

    @property
    def bentoml_home(self) -> Path:
        return self.work_dir / "bentoml"

    @property
    def reports_dir(self) -> Path:
        return self.work_dir / "reports"


def load_config(path: Path | str | None = None) -> Config:
    """Load the project config from `path`, $MLRIG_CONFIG, or ./mlrig.toml, in that order."""
    source = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    if not source.is_file():
        raise ConfigError(
            f"no project config at {source}: run from the project folder or set {CONFIG_ENV}=/path/to/mlrig.toml"
        )
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source} is not valid TOML: {err}") from err
    try:
        return Config.model_validate({**raw, "source": source.resolve()})
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors(include_url=False))
        raise ConfigError(f"{source}: {problems}") from err
