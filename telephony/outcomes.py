"""What a conversation can achieve: the outcomes the agent may record in the call
(`record_outcome`) and the analysis's dispositions, and which of them count as a success. A
campaign's plan and an agent profile's (single calls) both use these names."""

import re

from django.core.exceptions import ValidationError

DEFAULT_OUTCOMES = (
    "interested",
    "not_interested",
    "callback_requested",
    "do_not_call",
    "wrong_number",
    "voicemail",
    "no_conversation",
)
OUTCOME_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def default_outcomes() -> list[str]:
    return list(DEFAULT_OUTCOMES)


def default_success_outcomes() -> list[str]:
    return ["interested"]


def validate_outcomes(value) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError('Outcomes are a list of names, such as ["interested"].')
    wrong = [item for item in value if not OUTCOME_NAME.match(item)]
    if wrong:
        raise ValidationError(
            f"Outcome names are lower-case letters, digits and underscores (at most 40): "
            f"{', '.join(repr(item) for item in wrong[:5])}."
        )
    if len(set(value)) != len(value):
        raise ValidationError("Each outcome is listed once.")


def success_outcomes_error(outcomes, success_outcomes) -> str | None:
    """The success outcomes must be among the outcomes."""
    if not isinstance(outcomes, list) or not isinstance(success_outcomes, list):
        return None
    unknown = [name for name in success_outcomes if name not in outcomes]
    return f"Not among the outcomes: {', '.join(unknown)}." if unknown else None
