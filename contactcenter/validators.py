"""Validators shared by the apps, and the one bound on how deeply nested JSON from outside may be.

Deeply nested JSON is refused wherever it comes in (API bodies: `contactcenter.api.parsers`;
Agora's webhooks: `telephony.services.webhooks`; admin forms: `contactcenter.forms`; values
stored in JSON fields: `validate_json_text`), all with `settings.JSON_MAX_DEPTH` (32 levels):
Python's json module fails on very deep input with a RecursionError (a server error), and
rendering or masking a deep value recurses once per level.
"""

import json

from django.conf import settings
from django.core.exceptions import ValidationError


class JsonTooDeep(ValueError):
    """JSON nested deeper than JSON_MAX_DEPTH levels."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"JSON nested deeper than {limit} levels is not accepted.")


_CONTAINERS = (dict, list, tuple)


def json_max_depth() -> int:
    return settings.JSON_MAX_DEPTH


def _walk(value):
    """Every value inside `value` (object keys too) with the number of containers around it;
    iterative, so depth costs no recursion."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        yield item, depth
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in (*item.keys(), *item.values()))
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)


def _too_deep(item, depth: int, limit: int) -> bool:
    """A list or object is one level: `[]` is 1 deep, `{"a": [1]}` 2, a string 0."""
    return isinstance(item, _CONTAINERS) and depth + 1 > limit


def json_depth_exceeds(value, limit: int) -> bool:
    """Is `value` (decoded JSON) nested deeper than `limit`? Stops at the first level over."""
    return any(_too_deep(item, depth, limit) for item, depth in _walk(value))


class BoundedJSONDecoder(json.JSONDecoder):
    """json.JSONDecoder that refuses input nested deeper than JSON_MAX_DEPTH with JsonTooDeep
    (a ValueError, as for any invalid JSON) instead of failing with a RecursionError."""

    def decode(self, s, *args, **kwargs):
        limit = json_max_depth()
        try:
            value = super().decode(s, *args, **kwargs)
        except RecursionError:
            raise JsonTooDeep(limit) from None
        # Fewer brackets than the limit cannot nest deeper: skip the walk (counting is fast).
        if s.count("[") + s.count("{") > limit and json_depth_exceeds(value, limit):
            raise JsonTooDeep(limit)
        return value


def json_loads(text: str | bytes):
    """json.loads bounded by JSON_MAX_DEPTH: raises JsonTooDeep or another ValueError."""
    return json.loads(text, cls=BoundedJSONDecoder)


def validate_json_text(value) -> None:
    """JSON stored from outside: no NUL characters (PostgreSQL cannot store them) and no deeper
    than JSON_MAX_DEPTH levels (so every page and service that walks it can)."""
    limit = json_max_depth()
    for item, depth in _walk(value):
        if isinstance(item, str) and "\x00" in item:
            raise ValidationError(
                "Text may not contain NUL characters (\\u0000).", code="null_characters"
            )
        if _too_deep(item, depth, limit):
            raise ValidationError(
                f"Nested deeper than the {limit} levels accepted (JSON_MAX_DEPTH).",
                code="too_deep",
            )
