"""Lenient readers of body fields, for the endpoints outside the project's writes (folders, groups,
secrets); the project's writes are bound strictly by simulator/binding.py."""

from __future__ import annotations

from typing import Any, TypeVar

from simulator.paging import BadRequest

T = TypeVar("T")


def _wrong_type(name: str, expected: str) -> BadRequest:
    return BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} must be {expected}.")


def required(value: T | None, name: str) -> T:
    """The value of a required field, or the 400 that its absence gets."""
    if value is None:
        raise BadRequest("The request is invalid.", "API_InvalidRequest", f"{name} is required.",
                         {name: [f"The {name} field is required."]})
    return value


def int_field(body: dict[str, Any], name: str) -> int | None:
    """A lenient integer field: a number or a numeric string; empty counts as absent."""
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _wrong_type(name, "an integer")
    try:
        return int(value)
    except ValueError:
        raise _wrong_type(name, "an integer") from None


def str_field(body: dict[str, Any], name: str) -> str | None:
    """A lenient string field; blank counts as absent."""
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise _wrong_type(name, "a string")
    return value


def bool_field(body: dict[str, Any], name: str, default: bool) -> bool:
    """A boolean field; absent or null takes the default."""
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _wrong_type(name, "true or false")
    return value
