"""Reads the project configuration (mlrig.toml) into typed objects: the one place that parses it.

Everything else (validation schemas, the service's request model, feature lists, tests) derives from
these objects, so a column is renamed in one file. A bad config fails here, naming the key to fix.
"""

from __future__ import annotations

import codecs
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
LAKE_URL_ENV = "MLRIG_LAKE_URL"  # overrides storage.lake: the cluster's object store (set by infra/platform)
RAW_URL_ENV = "MLRIG_RAW_URL"  # overrides storage.raw: where drops land in that store (set by infra/platform)
DEFAULT_CONFIG = Path("mlrig.toml")

# The service's HTTP paths, served by BentoML itself (not configurable there): probes and scrapers point here.
LIVENESS_PATH = "/livez"
READINESS_PATH = "/readyz"
METRICS_PATH = "/metrics"
# The image stacks' config keys (and the serving stack's output) for the image they run: `mlrig deploy` sets the tag,
# CD may pin a digest instead, infra/settings.py reads both, infra/outputs.py exports the tag under the same name.
IMAGE_TAG_KEY = "imageTag"
IMAGE_DIGEST_KEY = "imageDigest"
MODELS_FOLDER = "models"  # under the lake: exported models and the champion pointer (see models_url)

DType = Literal["string", "int", "float", "bool", "category", "datetime"]
Role = Literal["feature", "id", "target", "timestamp", "attribute"]
PiiTreatment = Literal["drop", "pseudonymize"]
TaskName = Literal["binary", "regression"]  # what the model learns; each is one module in pipelines/tasks/


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
    # datetime only: how the text is written (strftime, e.g. "%d/%m/%Y"); unset, ISO 8601 (pipelines/contract.py)
    format: str | None = None
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.dtype == "category" and not self.allowed:
            raise ValueError("a category column needs `allowed` (its closed set of values)")
        if self.allowed and self.dtype != "category":
            raise ValueError("`allowed` only applies to dtype = 'category'")
        if self.format is not None and self.dtype != "datetime":
            raise ValueError("`format` only applies to dtype = 'datetime'")
        if (self.min is not None or self.max is not None) and self.dtype not in ("int", "float"):
            raise ValueError("`min`/`max` only apply to int and float columns")
        if self.pii and self.role == "feature":
            raise ValueError("a PII column cannot be a model feature; give it role = 'attribute' or 'id'")
        return self


class Contract(_Strict):
    dataset: str
    target: str
    task: TaskName = "binary"
    positive_class: str | None = None  # binary: the target value that counts as positive; regression: none
    entity_key: str | None = None  # none: rows are independent, split at random (one row per customer)
    event_time: str | None = None  # none: snapshots; the ingest time stands in where a time is needed
    duplicate_key: tuple[str, ...] = ()  # empty: a duplicate is the same record again, every column equal
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
            if key is not None and key not in self.columns:
                raise ValueError(f"contract refers to column {key!r}, which is not in [contract.columns]")
        target = self.columns[self.target]
        if target.role != "target":
            raise ValueError(f"column {self.target!r} is the target: set role = 'target' on it")
        if self.task == "binary":
            if self.positive_class is None:
                raise ValueError("a binary task needs positive_class (the target value that counts as positive)")
            if target.allowed and self.positive_class not in target.allowed:
                raise ValueError(f"positive_class {self.positive_class!r} is not one of {list(target.allowed)}")
        else:
            if self.positive_class is not None:
                raise ValueError(f"task {self.task!r} has no positive_class: remove it, or set task = 'binary'")
            if target.dtype not in ("int", "float"):
                raise ValueError(f"task {self.task!r} needs a numeric target; {self.target!r} is {target.dtype}")
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
        """A short hash of the contract, recorded in lineage and on models so mismatches are detectable. A binary
        contract hashes as it did before contracts named their task, so its registered models stay servable."""
        exclude = {"task"} if self.task == "binary" else set()
        payload = json.dumps(self.model_dump(mode="json", exclude=exclude), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


class Storage(_Strict):
    work_dir: Path = Path(".mlrig")
    lake: str = "lake"
    raw: str = "raw"
    encoding: str = "utf-8"  # of raw drops; ingest transcodes others (e.g. "cp1252" for Excel exports) to UTF-8
    format: Literal["csv", "parquet", "ndjson"] = "csv"  # of raw drops (`mlrig init` detects it)
    delimiter: str = Field(",", min_length=1, max_length=1)  # of CSV drops

    @model_validator(mode="after")
    def _known_encoding(self) -> Self:
        try:
            codecs.lookup(self.encoding)
        except LookupError as err:
            raise ValueError(f"unknown encoding {self.encoding!r}; use a Python codec name such as 'cp1252'") from err
        return self


class ThresholdPolicy(_Strict):
    """How a binary model's decision threshold is chosen on validation data (pipelines/tasks/binary/threshold.py);
    the model keeps it."""

    policy: Literal["max_f1", "cost", "min_precision", "min_recall", "fixed"] = "max_f1"
    cost_ratio: float = Field(1.0, gt=0)  # policy "cost": a missed positive costs this many false alarms
    min_precision: float | None = Field(None, gt=0, le=1)  # policy "min_precision": the most recall at this
    min_recall: float | None = Field(None, gt=0, le=1)  # policy "min_recall": the most precision at this
    value: float = Field(0.5, gt=0, lt=1)  # policy "fixed"
    validation_fraction: float = Field(0.2, gt=0, lt=1)  # of the train part, held out to choose the threshold

    @model_validator(mode="after")
    def _target_given(self) -> Self:
        if self.policy in ("min_precision", "min_recall") and getattr(self, self.policy) is None:
            raise ValueError(f"policy {self.policy!r} needs `{self.policy}` (e.g. {self.policy} = 0.5)")
        return self


class ModelSettings(_Strict):
    name: str
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 42
    params: dict[str, float | int | str] = Field(default_factory=dict)
    slices: tuple[str, ...] = ()  # categorical columns whose groups get their own metrics (and a gap rule)
    threshold: ThresholdPolicy = ThresholdPolicy()


class GateSettings(_Strict):
    """What a challenger must show before it becomes champion; see pipelines/ml/gate.py. Metric names are the
    task's (pipelines/tasks/): each knows which way it moves, so floors go to min_metrics (higher is better,
    e.g. roc_auc, r2) and ceilings to max_metrics (lower is better, e.g. rmse, log_loss)."""

    min_metrics: dict[str, float] = Field(default_factory=dict)  # not set: the task's default (_GATE_DEFAULTS)
    max_metrics: dict[str, float] = Field(default_factory=dict)
    # lift over the trivial baseline (chance, flagging everyone) on the test rows that the bootstrap lower bound
    # at lift_confidence must exceed: 0 means "better than needing no model, beyond the noise of these rows"
    min_lift: dict[str, float] = Field(default_factory=dict)
    lift_confidence: dict[str, float] = Field(default_factory=dict)  # per metric; not named: 0.95
    lift_rounds: int = Field(1000, ge=100)  # bootstrap resamples of the test rows
    max_regression: dict[str, float] = Field(default_factory=dict)  # not set: the task's default
    max_slice_gap: dict[str, float] = Field(default_factory=dict)
    min_slice_rows: int = Field(30, ge=1)  # smaller groups are too noisy to judge a gap on
    max_p99_row_ms: float = Field(50.0, gt=0)
    max_p99_batch_ms: float = Field(500.0, gt=0)
    batch_rows: int = Field(1000, ge=1)
    latency_repeats: int = Field(200, ge=10)

    def lift_confidences(self) -> dict[str, float]:
        """Each min_lift metric with the confidence of its lower bound (0.95 unless lift_confidence names it)."""
        return {metric: self.lift_confidence.get(metric, 0.95) for metric in self.min_lift}


# What a [gate] without min_metrics / max_regression checks, per task: scale-free metrics only (an RMSE limit
# depends on the target's unit, so only the project can set one).
_GATE_DEFAULTS: dict[str, dict[str, dict[str, float]]] = {
    "binary": {"min_metrics": {"roc_auc": 0.7}, "max_regression": {"roc_auc": 0.01}},
    "regression": {"min_metrics": {}, "max_regression": {"r2": 0.01}},
}


class TuningSettings(_Strict):
    """Optuna: a local SQLite study by default; a database URL lets several workers share one study."""

    storage: str = ""  # empty: sqlite:///<work>/tuning/optuna.db
    study: str = ""  # empty: "<model.name>"
    n_trials: int = Field(20, ge=1)
    timeout_s: float = Field(600, gt=0)
    search_space: dict[str, tuple[int | float, int | float]] = Field(default_factory=dict)


class VariantSettings(_Strict):
    """One model the service serves: a registered tag (or "champion", the registry's pointer) and its traffic share."""

    model: str = "champion"
    weight: float = Field(1.0, ge=0)
    shadow: bool = False  # scored on live traffic and logged, its answer never returned


class ServingSettings(_Strict):
    service_name: str
    host: str = "127.0.0.1"
    port: int = Field(3000, ge=1, le=65535)
    timeout_s: int = Field(10, ge=1)
    max_batch_rows: int = Field(1000, ge=1)
    max_body_bytes: int = Field(1_048_576, ge=1024)
    # Bearer API keys on the prediction endpoints: from $MLRIG_API_KEYS (comma-separated) or the file named by
    # api_keys_file / $MLRIG_API_KEYS_FILE (one key a line). Only the local demo turns it off.
    auth: Literal["required", "disabled"] = "required"
    api_keys_file: str | None = None
    cors_origins: tuple[str, ...] = ()  # no CORS headers unless origins are listed
    # Prediction log: appended to the lake's predictions table by a background thread, in batches.
    log_predictions: bool = True
    # Each flush is one Delta commit, whose fixed cost (opening the table's log) is paid by the serving process:
    # at 1,000 rows a flush it was half of a request's CPU time (docs/serving.md). Shutdown flushes the rest.
    log_flush_rows: int = Field(10_000, ge=1)
    log_flush_s: float = Field(10.0, gt=0)
    variants: dict[str, VariantSettings] = Field(default_factory=lambda: {"champion": VariantSettings()})

    @model_validator(mode="after")
    def _variants_route_traffic(self) -> Self:
        live = [name for name, v in self.variants.items() if not v.shadow and v.weight > 0]
        if not live:
            raise ValueError("serving.variants needs at least one variant with weight > 0 that is not a shadow")
        for name, variant in self.variants.items():
            if variant.shadow and variant.weight:
                raise ValueError(f"serving.variants.{name} is a shadow: its answer is never returned, set weight = 0")
            if not name.isidentifier():
                raise ValueError(f"serving.variants.{name}: a variant name must be a Python identifier (a-z, 0-9, _)")
        return self


class DriftLimits(_Strict):
    psi_max: float | None = None
    ks_max: float | None = None
    js_max: float | None = None


class MonitoringSettings(_Strict):
    psi_max: float = Field(0.2, gt=0)
    ks_max: float = Field(0.15, gt=0, le=1)
    js_max: float = Field(0.1, gt=0, le=1)
    min_window_rows: int = Field(200, ge=1)
    min_roc_auc: float = Field(0.7, ge=0, le=1)  # binary: on late outcomes
    max_roc_auc_drop: float = Field(0.05, ge=0, le=1)
    max_rmse_rise: float = Field(0.25, ge=0)  # regression: late outcomes' RMSE over the test RMSE, as a share
    max_residual_ks: float = Field(0.2, gt=0, le=1)  # regression: residuals of late outcomes vs the test residuals
    significance: float = Field(0.05, gt=0, lt=1)
    features: dict[str, DriftLimits] = Field(default_factory=dict)

    def limits_for(self, feature: str) -> DriftLimits:
        """A feature's own limits where set, the project-wide ones otherwise."""
        own = self.features.get(feature, DriftLimits())
        return DriftLimits(
            psi_max=own.psi_max or self.psi_max, ks_max=own.ks_max or self.ks_max, js_max=own.js_max or self.js_max
        )


class ReleaseSettings(_Strict):
    """Post-deploy checks and rollback (`mlrig smoke | deploy | rollback`)."""

    smoke_requests: int = Field(50, ge=1, le=10_000)
    p99_budget_ms: float = Field(250, gt=0)
    request_timeout_s: float = Field(10, gt=0)
    serving_project: Path = Path("infra/serving")
    previous_tag_key: str = "mlrig:previous-image-tag"

    @model_validator(mode="before")
    @classmethod
    def _image_tag_key_is_not_a_setting(cls, data: object) -> object:
        """Older configs set `image_config_key`; the key is now fixed (IMAGE_TAG_KEY), shared by infra and deploy."""
        if isinstance(data, dict) and "image_config_key" in data:
            data = dict(data)
            if data.pop("image_config_key") != IMAGE_TAG_KEY:
                raise ValueError(
                    f"image_config_key is no longer a setting: the stacks' image key is always {IMAGE_TAG_KEY!r} "
                    "(infra/settings.py reads it, mlrig deploy sets it). Remove the line."
                )
        return data


class BusinessSettings(_Strict):
    """The view the business asks for first: outcome rate and value by segment, and what a caught positive is worth."""

    segment_by: tuple[str, ...] = ()
    value_column: str | None = None  # value of one record per period, e.g. monthly_charges
    value_periods: int = Field(12, ge=1)  # value at stake counted over this many periods


class QualitySettings(_Strict):
    """Data-quality limits refine enforces (and `mlrig init` checks its proposal against)."""

    max_quarantine_share: float = Field(0.05, gt=0, le=1)  # more quarantined than this: the contract is wrong


class ImagesSettings(_Strict):
    """Container images: the pinned base, how a local base is made, names and the non-root user."""

    base_image: str = "localhost/mlrig-base:bookworm-py311-2"
    base_suite: str = "bookworm"
    base_packages: tuple[str, ...] = ("python3", "python3-venv", "ca-certificates", "libgomp1")
    debian_mirror: str = "http://deb.debian.org/debian"
    registry: str = "ghcr.io/mlrig"
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
    monitoring: MonitoringSettings = MonitoringSettings()
    business: BusinessSettings = BusinessSettings()
    quality: QualitySettings = QualitySettings()
    release: ReleaseSettings = ReleaseSettings()
    gate: GateSettings = GateSettings()
    tuning: TuningSettings = TuningSettings()
    images: ImagesSettings = ImagesSettings()
    source: Path = Path("mlrig.toml")

    @model_validator(mode="after")
    def _task_gate_defaults(self) -> Self:
        unset = {k: v for k, v in _GATE_DEFAULTS[self.contract.task].items() if k not in self.gate.model_fields_set}
        if unset:
            object.__setattr__(self, "gate", self.gate.model_copy(update=unset))  # frozen: set once, at load
        return self

    @model_validator(mode="after")
    def _business_columns_exist(self) -> Self:
        named = [*self.business.segment_by, *([self.business.value_column] if self.business.value_column else [])]
        unknown = [c for c in named if c not in self.contract.columns]
        if unknown:
            raise ValueError(f"[business] names column(s) {unknown} that are not in [contract.columns]")
        return self

    @property
    def work_dir(self) -> Path:
        """The work folder: $MLRIG_WORK_DIR, else storage.work_dir relative to the config file's folder."""
        work = Path(os.environ.get(WORK_DIR_ENV) or self.storage.work_dir)
        return work if work.is_absolute() else (self.source.parent / work).resolve()

    @property
    def lake_url(self) -> str:
        lake = os.environ.get(LAKE_URL_ENV) or self.storage.lake
        if "://" in lake or Path(lake).is_absolute():
            return lake
        return str(self.work_dir / lake)

    @property
    def models_url(self) -> str:
        return models_url(self.lake_url)

    @property
    def raw_url(self) -> str:
        """Where raw drops land: $MLRIG_RAW_URL, else storage.raw: a folder (relative to the work folder) or an
        object-store prefix (s3://bucket/raw), read with the lake's S3 settings."""
        raw = os.environ.get(RAW_URL_ENV) or self.storage.raw
        if "://" in raw or Path(raw).is_absolute():
            return raw
        return str(self.work_dir / raw)

    @property
    def raw_dir(self) -> Path:
        """The drop folder, for what needs local files (`mlrig init` samples, tests); raw_url where it may be S3."""
        if "://" in self.raw_url:
            raise ConfigError(f"raw drops are at {self.raw_url}, not in a local folder")
        return Path(self.raw_url)

    @property
    def bentoml_home(self) -> Path:
        return self.work_dir / "bentoml"

    @property
    def reports_dir(self) -> Path:
        return self.work_dir / "reports"


def models_url(lake_url: str) -> str:
    """Where exported models and the champion pointer live: beside the tables, so whatever reaches the lake reaches
    them (pipelines/ml/register.py, pipelines/ml/registry.py); the platform stack exports the same URL."""
    return f"{lake_url.rstrip('/')}/{MODELS_FOLDER}"


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
        return _check_ml_references(Config.model_validate({**raw, "source": source.resolve()}))
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors(include_url=False))
        raise ConfigError(f"{source}: {problems}") from err


def _check_ml_references(config: Config) -> Config:
    """Slices name columns; a typo must fail at load, not after training. (Gate rules name the task's metrics:
    pipelines/tasks/ checks those, `task_of(config)`.)"""
    columns = config.contract.columns
    for name in config.model.slices:
        if name not in columns or columns[name].dtype not in ("category", "bool"):
            raise ConfigError(
                f"model.slices: {name!r} is not a category column of [contract.columns]; name one that is."
            )
    return config
