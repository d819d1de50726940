"""The serving scorer: the fitted training Pipeline compiled into encode → booster raw score → link function.

The Pipeline (FunctionTransformer → ColumnTransformer → the task's LightGBM estimator) turns every call into
pandas frames and costs milliseconds a row; the LightGBM booster it wraps scores a float array in microseconds.
Registration compiles the one into the other and keeps both in the model store: the Pipeline for training,
explanation and the card; the scorer (`booster.txt` + `scorer.json`, no pickle, no scikit-learn) for serving.
The encoding is read from the *fitted* Pipeline (the ordinal encoder's categories, the column order the booster
saw), never restated, and `agreement()` measures on held-out rows that both give the same predictions (a binary
classifier's probabilities through the sigmoid link, a regressor's values through the identity link);
registration records it and the gate refuses a model whose scorer strays more than `MAX_SCORER_GAP`.
"""

from __future__ import annotations

import ctypes
import json
import math
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

BOOSTER_FILE = "booster.txt"  # LightGBM's own text format
SCORER_FILE = "scorer.json"  # the encoding and the link function
# Scorer vs Pipeline on held-out rows, relative to max(1, |prediction|) (a probability's gap is absolute; a price's
# is relative, as float64 arithmetic is): anything above is a compilation bug.
MAX_SCORER_GAP = 1e-9


class ScorerError(ValueError):
    """The Pipeline cannot be compiled, or a stored scorer is unusable; the message says what to do."""


@dataclass(frozen=True)
class Link:
    """A task's link function, from the booster's raw score to what the model predicts: on an array of rows,
    and on one row's float (the one-row path stays out of numpy: its call overhead outweighs the arithmetic)."""

    many: Callable[[np.ndarray, float], np.ndarray]
    one: Callable[[float, float], float]


# Per LightGBM objective family (`_link_of`): binary → sigmoid; regression (L2, L1, Huber, quantile…) → identity;
# log-link objectives (Poisson, gamma, Tweedie) → exp. `scale` is the sigmoid's; the others ignore it.
LINKS: dict[str, Link] = {
    "sigmoid": Link(
        many=lambda raw, scale: 1.0 / (1.0 + np.exp(-scale * raw)),
        one=lambda raw, scale: 1.0 / (1.0 + math.exp(-scale * raw)),
    ),
    "identity": Link(many=lambda raw, scale: raw, one=lambda raw, scale: raw),
    "exp": Link(many=lambda raw, scale: np.exp(raw), one=lambda raw, scale: math.exp(raw)),
}
IDENTITY_OBJECTIVES = ("regression", "regression_l1", "huber", "fair", "quantile", "mape")
EXP_OBJECTIVES = ("poisson", "gamma", "tweedie")


@dataclass(frozen=True)
class Feature:
    """One booster input column: a request field, and (for a category) its value → code table."""

    name: str
    codes: Mapping[str, float] | None = None  # None: a number (bool counts as 0/1)


def _code(codes: Mapping[str, float] | None, value: Any) -> float:
    if codes is not None:
        return codes.get(value, math.nan)
    return math.nan if value is None else float(value)


class SingleRowPredictor:
    """One row's raw score through LightGBM's C API `LGBM_BoosterPredictForMatSingleRowFast`: set up once, about
    ten times cheaper per call than `Booster.predict`, which builds a predictor and its parameters on every call
    (measured: docs/serving.md). The Python package does not wrap this call, so it is made here on the package's
    own loaded library; where that is not possible the row goes through `Booster.predict` (same result).
    The call keeps the GIL (`ctypes.PyDLL`): releasing it for two microseconds let the prediction log's writer
    thread take it for milliseconds, which showed as the service's whole p99."""

    def __init__(self, booster: Any, columns: int) -> None:
        from lightgbm import basic

        self._lib = basic._LIB  # the library lightgbm loaded; its handles are valid here
        self._handle = ctypes.c_void_p()
        basic._safe_call(
            self._lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(basic._C_API_PREDICT_RAW_SCORE),
                ctypes.c_int(0),  # from the first iteration
                ctypes.c_int(-1),  # to the best (or last) one, as Booster.predict does
                ctypes.c_int(basic._C_API_DTYPE_FLOAT64),
                ctypes.c_int32(columns),
                basic._c_str("num_threads=1"),
                ctypes.byref(self._handle),
            )
        )
        self._predict = ctypes.PyDLL(self._lib._name).LGBM_BoosterPredictForMatSingleRowFast  # same library
        self._booster = booster  # the fast handle points into the booster: keep it alive as long
        self._row_type = ctypes.c_double * columns
        self._out = ctypes.c_double()
        self._out_ref = ctypes.byref(self._out)
        self._out_len_ref = ctypes.byref(ctypes.c_int64())
        self._lock = threading.Lock()  # one output buffer: BentoML's thread pool may call in beside the event loop
        weakref.finalize(self, self._lib.LGBM_FastConfigFree, self._handle)

    @classmethod
    def for_booster(cls, booster: Any, columns: int) -> Callable[[Sequence[float]], float]:
        from lightgbm.basic import LightGBMError

        try:
            return cls(booster, columns)
        except (AttributeError, OSError, LightGBMError):  # a LightGBM without this call: the general path is exact
            return lambda row: float(booster.predict(np.array([row]), raw_score=True, num_threads=1)[0])

    def __call__(self, row: Sequence[float]) -> float:
        values = self._row_type(*row)
        with self._lock:
            if self._predict(self._handle, values, self._out_len_ref, self._out_ref):
                raise RuntimeError(f"LightGBM: {self._lib.LGBM_GetLastError().decode()}")
            return self._out.value


@dataclass(frozen=True)
class Scorer:
    """Predictions (a probability, or a value) from records: `encode` → `raw_scores` (the booster) → `link`."""

    features: tuple[Feature, ...]
    booster: Any  # lightgbm.Booster
    link: str
    link_scale: float

    def predict(self, columns: Mapping[str, Sequence[Any]], rows: int) -> list[float]:
        """`rows` rows of request columns (field → values, as validated): encode → raw score → link. One row goes
        the one-row way (Python floats, LightGBM's fast single-row call), more the array way; both are checked
        against the Pipeline by `agreement()`."""
        link = LINKS[self.link]
        if rows == 1:
            raw = self.raw_score_row(self.encode_row({name: values[0] for name, values in columns.items()}))
            return [link.one(raw, self.link_scale)]
        return link.many(self.raw_scores(self.encode(columns, rows)), self.link_scale).tolist()

    def encode_row(self, record: Mapping[str, Any]) -> list[float]:
        """One record → the booster's input row (see `encode`)."""
        return [_code(f.codes, record[f.name]) for f in self.features]

    def encode(self, columns: Mapping[str, Sequence[Any]], rows: int) -> np.ndarray:
        """Request columns → the booster's float matrix: a category's code (unknown or null → NaN, which the
        booster treats as missing, as the Pipeline's encoder does), a number as float (null → NaN, True → 1.0)."""
        matrix = np.empty((rows, len(self.features)), dtype=np.float64)
        for j, feature in enumerate(self.features):
            values = columns[feature.name]
            if feature.codes is None:
                matrix[:, j] = np.asarray(values, dtype=np.float64)  # None becomes NaN
            else:
                codes = feature.codes
                matrix[:, j] = [codes.get(v, math.nan) for v in values]
        return matrix

    def raw_scores(self, matrix: np.ndarray) -> np.ndarray:
        # One thread: the booster's own pool fights the server's event loop for the same cores.
        return self.booster.predict(matrix, raw_score=True, num_threads=1)

    def raw_score_row(self, row: Sequence[float]) -> float:
        return self._single_row(row)

    @cached_property
    def _single_row(self) -> Callable[[Sequence[float]], float]:
        return SingleRowPredictor.for_booster(self.booster, len(self.features))

    def score_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Predictions for records (dicts keyed by feature name): the convenience path for checks and tools."""
        columns = {f.name: [r.get(f.name) for r in records] for f in self.features}
        return np.asarray(self.predict(columns, len(records)))

    def save(self, folder: Path) -> None:
        self.booster.save_model(str(folder / BOOSTER_FILE))
        spec = {
            "features": [
                {"name": f.name, "codes": dict(f.codes) if f.codes is not None else None} for f in self.features
            ],
            "link": self.link,
            "link_scale": self.link_scale,
        }
        (folder / SCORER_FILE).write_text(json.dumps(spec, indent=1), encoding="utf-8")


def load_scorer(folder: Path) -> Scorer:
    """The scorer stored in a model's folder; a model registered before scorers existed has none."""
    import lightgbm

    spec_path = folder / SCORER_FILE
    if not spec_path.is_file() or not (folder / BOOSTER_FILE).is_file():
        raise ScorerError(
            f"{folder} holds no serving scorer ({SCORER_FILE}, {BOOSTER_FILE}): it was registered before the "
            "compiled serving path existed. Register it again (`mlrig train`) to serve it."
        )
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    if spec["link"] not in LINKS:
        raise ScorerError(f"{spec_path}: link function {spec['link']!r} is not one of {sorted(LINKS)}.")
    return Scorer(
        features=tuple(Feature(f["name"], f["codes"]) for f in spec["features"]),
        booster=lightgbm.Booster(model_file=str(folder / BOOSTER_FILE)),
        link=spec["link"],
        link_scale=float(spec["link_scale"]),
    )


def compile_pipeline(pipeline: Any) -> Scorer:
    """The scorer equivalent to a fitted `pipelines.ml.model` Pipeline (types → prepare → the task's estimator)."""
    steps = dict(pipeline.named_steps)
    names = list(steps)
    if names[:2] != ["types", "prepare"] or len(names) != 3 or not hasattr(pipeline.steps[-1][1], "booster_"):
        raise ScorerError(
            f"cannot compile a Pipeline with steps {names}: the serving scorer knows the steps build_model() "
            "makes (types, prepare, a LightGBM estimator). Teach pipelines/ml/scorer.py the new step."
        )
    booster = pipeline.steps[-1][1].booster_
    codes: dict[str, dict[str, float]] = {}
    numbers: set[str] = set()
    prepare = steps["prepare"]
    for name, spec, columns in prepare.transformers:  # as built; the fitted ones are in named_transformers_
        fitted = prepare.named_transformers_[name]
        if hasattr(fitted, "categories_"):  # the ordinal encoder: a category's code is its index
            for column, categories in zip(columns, fitted.categories_, strict=True):
                if not all(isinstance(value, str) for value in categories):
                    raise ScorerError(f"category {column!r} has values that are not strings: {list(categories)}.")
                codes[column] = {value: float(code) for code, value in enumerate(categories)}
        elif isinstance(spec, str) and spec == "passthrough":
            numbers.update(columns)
        else:
            raise ScorerError(f"cannot compile the Pipeline's {name!r} transformer ({spec!r}).")
    order = booster.feature_name()  # the booster's column order is the ColumnTransformer's output order
    unknown = [c for c in order if c not in codes and c not in numbers]
    if unknown:
        raise ScorerError(f"the booster reads columns {unknown} that no Pipeline step produces.")
    return Scorer(
        features=tuple(Feature(c, codes.get(c)) for c in order),
        booster=booster,
        **_link_of(booster),
    )


def _link_of(booster: Any) -> dict[str, Any]:
    """The link function of the booster's objective, e.g. "binary sigmoid:1" → sigmoid with scale 1,
    "regression" → identity."""
    objective = booster.dump_model(num_iteration=1)["objective"].split()
    if objective[0] == "binary":
        params = dict(p.split(":", 1) for p in objective[1:] if ":" in p)
        return {"link": "sigmoid", "link_scale": float(params.get("sigmoid", 1.0))}
    if objective[0] in IDENTITY_OBJECTIVES:
        return {"link": "identity", "link_scale": 1.0}
    if objective[0] in EXP_OBJECTIVES:
        return {"link": "exp", "link_scale": 1.0}
    raise ScorerError(f"the serving scorer has no link function for LightGBM objective {objective[0]!r} yet.")


def agreement(scorer: Scorer, pipeline: Any, features: Any) -> dict[str, float]:
    """How closely the scorer reproduces the Pipeline's predictions on `features` (a DataFrame of held-out
    rows), scored both ways the service scores (all rows at once, and one row per call): the largest difference
    relative to max(1, |prediction|) (`max_abs_diff`: absolute for probabilities), and over how many rows."""
    if not len(features):
        return {"rows": 0, "max_abs_diff": math.inf, "limit": MAX_SCORER_GAP}  # no rows proves nothing
    # the sigmoid link serves the positive class's probability; the others what `predict` gives
    expected = pipeline.predict_proba(features)[:, 1] if scorer.link == "sigmoid" else pipeline.predict(features)
    records = features.to_dict("records")
    batch = scorer.score_records(records)
    one_by_one = np.concatenate([scorer.score_records([record]) for record in records])
    scale = np.maximum(1.0, np.abs(expected))
    gap = max(float(np.max(np.abs(expected - batch) / scale)), float(np.max(np.abs(expected - one_by_one) / scale)))
    return {"rows": len(features), "max_abs_diff": gap, "limit": MAX_SCORER_GAP}
