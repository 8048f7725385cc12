"""Validators shared by the apps."""

from django.core.exceptions import ValidationError


def validate_json_text(value) -> None:
    """JSON from outside may not hold NUL characters: PostgreSQL cannot store them."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValidationError(
                    "Text may not contain NUL characters (\\u0000).", code="null_characters"
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
