"""The types of JSON as it crosses a wire: a service's response, a sandbox's reply, a daemon frame.

``dict[str, Any]`` says nothing and checks nothing; ``JSONObject`` says "a JSON object" and mypy
holds every value to it, so a ``datetime`` or a ``Decimal`` left in a payload fails the type
check instead of the encoder at run time. Use it only where the shape is truly free-form (a
record a service returns with fields it chose); where the shape is known, a pydantic model or a
``TypedDict`` says more. Reading a value out of one needs a check of its type (``as_object``,
``as_list``, ``as_str``), which is the point: the wire is untrusted until it is checked.
"""

from __future__ import annotations

from typing import TypeAlias

JSONScalar: TypeAlias = str | int | float | bool | None
JSONValue: TypeAlias = JSONScalar | list["JSONValue"] | dict[str, "JSONValue"]
JSONObject: TypeAlias = dict[str, JSONValue]
JSONArray: TypeAlias = list[JSONValue]


def as_object(value: JSONValue, where: str = "value") -> JSONObject:
    """``value`` as a JSON object, or a ``TypeError`` naming ``where``."""
    if not isinstance(value, dict):
        raise TypeError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def as_list(value: JSONValue, where: str = "value") -> JSONArray:
    """``value`` as a JSON array, or a ``TypeError`` naming ``where``."""
    if not isinstance(value, list):
        raise TypeError(f"{where}: expected a JSON array, got {type(value).__name__}")
    return value


def as_str(value: JSONValue, where: str = "value") -> str:
    """``value`` as a string, or a ``TypeError`` naming ``where``."""
    if not isinstance(value, str):
        raise TypeError(f"{where}: expected a string, got {type(value).__name__}")
    return value
