"""The shape a valid request body can have, and a scan that refuses any other shape before the body is parsed.

A valid `/score` body is one flat object of at most one key per feature; a valid `/score_batch` body is
`{"records": [ ... ]}`: depth 3, at most `max_batch_rows` records. A body nested 10,000 levels deep or holding
a million tiny elements cannot be valid, so it is refused by counting brackets, colons and commas outside
strings — in numpy, linear in the body's size, bounded by the body limit — before any parser sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("{"), ord("[")]] = 1
_CLOSE = np.zeros(256, dtype=np.int8)
_CLOSE[[ord("}"), ord("]")]] = 1


# A record may carry a few keys too many and still reach the request model, which names each unknown field;
# only twice the keys a record can have is refused here, unnamed, as a flood.
KEY_SLACK = 2


@dataclass(frozen=True)
class Shape:
    """The most a valid body can hold: nesting depth, objects and arrays opened, keys, and elements."""

    max_depth: int
    max_containers: int
    max_keys: int
    max_separators: int  # commas: one fewer than the elements of every object and array together

    @classmethod
    def record(cls, features: int) -> Shape:
        keys = KEY_SLACK * features
        return cls(max_depth=1, max_containers=1, max_keys=keys, max_separators=keys)

    @classmethod
    def batch(cls, features: int, max_rows: int) -> Shape:
        keys = KEY_SLACK * features
        return cls(
            max_depth=3,
            max_containers=2 + max_rows,  # the envelope, the records array, one object per record
            max_keys=1 + max_rows * keys,
            max_separators=max_rows * (keys + 1),  # between records, and inside each
        )


@dataclass(frozen=True)
class Structure:
    depth: int
    containers: int
    keys: int
    separators: int


def structure(body: bytes) -> Structure:
    """Nesting depth and counts of a JSON text, ignoring what is inside strings. Exact for valid JSON; for
    invalid JSON some count, which the parser then refuses anyway."""
    # Escaped backslashes first, then escaped quotes: what is left of '"' opens or closes a string.
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    raw = np.frombuffer(body, dtype=np.uint8)
    quote = raw == _QUOTE
    outside = (np.cumsum(quote, dtype=np.int32) & 1) == 0  # a closing quote counts as outside: harmless
    opens = _OPEN[raw] & outside
    closes = _CLOSE[raw] & outside
    level = np.cumsum(opens.astype(np.int32) - closes, dtype=np.int32)
    return Structure(
        depth=int(level.max(initial=0)),
        containers=int(opens.sum()),
        keys=int(np.count_nonzero((raw == ord(":")) & outside)),
        separators=int(np.count_nonzero((raw == ord(",")) & outside)),
    )


def shape_problem(body: bytes, shape: Shape) -> str | None:
    """Why `body` cannot be a valid request of `shape`, or None. Bodies too small to break the shape skip the
    scan: counting every bracket, colon and comma (inside strings too) bounds the exact counts from above."""
    if (
        body.count(b"{") + body.count(b"[") <= min(shape.max_depth, shape.max_containers)
        and body.count(b":") <= shape.max_keys
        and body.count(b",") <= shape.max_separators
    ):
        return None
    found = structure(body)
    if found.depth > shape.max_depth:
        return f"the body is nested {found.depth} levels deep; a valid request has at most {shape.max_depth}"
    for what, count, limit in (
        ("objects and arrays", found.containers, shape.max_containers),
        ("fields", found.keys, shape.max_keys),
        ("elements", found.separators + 1, shape.max_separators + 1),
    ):
        if count > limit:
            return f"the body holds {count} {what}; a valid request has at most {limit}"
    return None
