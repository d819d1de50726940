"""The service's request and response models, derived from the data contract (never restated); the response is
the task's (pipelines/tasks/).

A feature's type, bounds, allowed values and nullability come from mlrig.toml, so a request that the
contract would quarantine is refused at the door with a 400 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from pipelines.config import Column, Contract
from pipelines.contract import example_request
from pipelines.tasks import get_task
from pipelines.tasks.binary import BINARY

_PYTHON_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool, "string": str}


def _field_type(column: Column) -> Any:
    if column.dtype == "category":
        base: Any = Literal[tuple(column.allowed or ())]
    else:
        constraints: dict[str, Any] = {"strict": True}
        if column.min is not None:
            constraints["ge"] = column.min
        if column.max is not None:
            constraints["le"] = column.max
        if column.dtype == "float":
            constraints["allow_inf_nan"] = False
        base = Annotated[_PYTHON_TYPES[column.dtype], Field(**constraints)]
    return base | None if column.nullable else base


def request_model(contract: Contract) -> type[BaseModel]:
    """One record's features, as the model needs them: every field required (nullable ones may be null)."""
    fields: dict[str, Any] = {
        c.name: (_field_type(c), Field(..., description=c.description or f"{c.dtype} feature"))
        for c in contract.features
    }
    model = create_model(
        f"{contract.dataset.title().replace('_', '')}Features",
        # BentoML's OpenAPI schema object takes `example`, not JSON Schema's `examples`
        __config__=ConfigDict(extra="forbid", json_schema_extra={"example": example_request(contract)}),
        **fields,
    )
    model.__doc__ = f"The features of one {contract.dataset} record, per the data contract."
    return model


def batch_model(contract: Contract, max_rows: int, record: type[BaseModel] | None = None) -> type[BaseModel]:
    """`/score_batch`'s body: {"records": [...]}, 1 to `max_rows` records, nothing else at any level."""
    record = record or request_model(contract)
    model = create_model(
        f"{record.__name__}Batch",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"example": {"records": [example_request(contract)]}}),
        records=(list[record], Field(..., min_length=1, max_length=max_rows)),  # type: ignore[valid-type]
    )
    model.__doc__ = f"Up to {max_rows} {contract.dataset} records, scored by one variant."
    return model


def answer_model(contract: Contract) -> type[BaseModel]:
    """The answer for one record, as the contract's task gives it (pipelines/tasks/): binary → probability and
    decision; regression → the predicted number."""
    return get_task(contract.task).answer


Score = BINARY.answer  # the binary answer, by the name callers knew before tasks
