"""Values across the socket: a `Result` (and what it holds) as JSON and back, losslessly.

`Result.as_dict()` is what the CLI prints, and leaves out what only the code needs (a failure's
message and whether it was recoverable, which error is the input's): a caller that wants the
`Result` itself (`caro eval` through the service) gets every field, encoded from the
dataclasses' own type hints, so a field added to a value travels without a change here.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from enum import Enum
from typing import Any

from pipeline.values import Result


def encode(value: Any) -> Any:
    """A JSON-ready form of a value made of dataclasses, enums, tuples, dicts and scalars."""
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(kind: Any, data: Any) -> Any:
    """The value of type `kind` that `encode` turned into `data`."""
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        if data is None:
            return None
        (inner,) = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return decode(inner, data)
    if origin is tuple:
        args = typing.get_args(kind)
        items = args[:1] * len(data) if len(args) == 2 and args[1] is Ellipsis else args
        return tuple(decode(item, value) for item, value in zip(items, data))
    if origin is dict:
        key_type, value_type = typing.get_args(kind)
        return {decode(key_type, key): decode(value_type, value) for key, value in data.items()}
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(data)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = _hints(kind)
        return kind(**{f.name: decode(hints[f.name], data[f.name]) for f in dataclasses.fields(kind) if f.name in data})
    return data


def result_to_wire(result: Result) -> dict[str, Any]:
    return encode(result)


def result_from_wire(data: dict[str, Any]) -> Result:
    return decode(Result, data)
