"""What PostgreSQL can store in text and jsonb: no NUL characters or lone surrogates, finite
numbers, and JSON nested at most ``MAX_JSON_DEPTH`` deep (deeper could be stored but not always
encoded again, for a response or a task). The API (a 400) and the admin's forms (the field's
error) refuse the same values through :func:`check_storable`."""

from __future__ import annotations

import math
from typing import Any

MAX_JSON_DEPTH = 32  # objects and arrays inside one another; no endpoint needs more than 5


class Unstorable(ValueError):
    """A value PostgreSQL would refuse; the message names where it is."""


def bad_text(value: str) -> bool:
    return "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)


def too_deep(path: str) -> str:
    return f"{path}: objects and arrays nest more than {MAX_JSON_DEPTH} levels deep."


def check_storable(data: Any, path: str = "body", depth: int = 1) -> None:
    """Unstorable for the first value in ``data`` (decoded JSON) that PostgreSQL cannot hold."""
    if isinstance(data, str):
        if bad_text(data):
            raise Unstorable(f"{path}: NUL characters and lone surrogates are not allowed.")
    elif isinstance(data, float) and not math.isfinite(data):
        raise Unstorable(f"{path}: numbers must be finite.")
    elif isinstance(data, dict | list) and depth > MAX_JSON_DEPTH:
        raise Unstorable(too_deep(path))
    elif isinstance(data, dict):
        for key, value in data.items():
            check_storable(key, path)
            check_storable(value, f"{path}.{key}", depth + 1)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            check_storable(value, f"{path}.{index}", depth + 1)
