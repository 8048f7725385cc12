"""The dialing rules every outbound call answers to (product.md, invariants 3 and 5).

Telephony asks them twice for every call: when the call is queued (`call_create`: single calls
from the API, the admin and the command, and the dispatcher's campaign calls) and again right
before each HTTP request that places it (`call_place`, retries included). The rules themselves
(do-not-call, call frequency, calling hours, destinations, a campaign's own window and status)
live in `campaigns.services.dialing_rules`, which registers them when the app loads: telephony
knows nothing of contacts or campaigns. Until rules are registered every call is refused (fail
closed).
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from django.core.exceptions import ImproperlyConfigured, ValidationError

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

    from telephony.models import Call


class Rule(StrEnum):
    DESTINATION = "destination"
    DO_NOT_CALL = "do_not_call"
    CALL_FREQUENCY = "call_frequency"  # too many calls to the number lately (any campaign)
    CALLING_HOURS = "calling_hours"
    CAMPAIGN_WINDOW = "campaign_window"
    CAMPAIGN_STATUS = "campaign_status"


# How pages and exports name each rule.
RULE_LABELS = {
    Rule.DESTINATION: "Destination not allowed",
    Rule.DO_NOT_CALL: "Do-not-call list",
    Rule.CALL_FREQUENCY: "Call limits per number",
    Rule.CALLING_HOURS: "Calling hours",
    Rule.CAMPAIGN_WINDOW: "Campaign's calling window",
    Rule.CAMPAIGN_STATUS: "Campaign not running",
}

# What staff holding `telephony.override_dialing_rules` may override for one call (an emergency
# call, say). Destinations (toll fraud) and a campaign's own rules are never overridden.
OVERRIDABLE_RULES = frozenset({Rule.DO_NOT_CALL, Rule.CALLING_HOURS})


@dataclass(frozen=True)
class Refusal:
    rule: Rule
    message: str
    # Calling hours and call frequency: the next instant the call would be allowed (None:
    # never, as things stand).
    opens_at: datetime | None = None


@dataclass(frozen=True)
class RulesOverride:
    """Staff placing one call past OVERRIDABLE_RULES: who (holding the permission) and why."""

    user: "AbstractBaseUser"
    reason: str


class CallRefused(ValidationError):
    """A call the dialing rules refuse; a form or API error on the callee's number."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__({"to_number": [refusal.message]}, code=refusal.rule.value)
        self.refusal = refusal


class DialingRules(Protocol):
    def new_call_refusal(
        self,
        *,
        to_number: str,
        callee_timezone: str,
        now: datetime,
        overridden: frozenset[Rule],
    ) -> Refusal | None:
        """Why a single call to `to_number` may not be queued now, or None."""
        ...

    def new_call_refusals(
        self,
        *,
        calls: list[tuple[str, str]],
        now: datetime,
        overridden: frozenset[Rule] = frozenset(),
        facts: object | None = None,
    ) -> list[Refusal | None]:
        """The same for many calls at once, each given as (to_number, callee_timezone): one
        answer per call, in order (the rules read the database once for all of them).
        `facts`: what the rules read for these numbers in the caller's transaction already
        (the dispatcher's, when it checked its claim), used if it covers them."""
        ...

    def placement_refusal(self, *, call: "Call", now: datetime) -> Refusal | None:
        """Why `call` (a single or a campaign call) may not be dialed now, or None."""
        ...

    def placement_refusals(self, *, calls: list["Call"], now: datetime) -> dict[str, Refusal]:
        """The same for a batch: the refused calls' ids (as strings) and why."""
        ...


_registered: DialingRules | None = None


def register_dialing_rules(rules: DialingRules) -> None:
    global _registered
    _registered = rules


def dialing_rules() -> DialingRules:
    if _registered is None:
        raise ImproperlyConfigured(
            "No dialing rules are registered (the campaigns app registers them): no call may be "
            "placed without them."
        )
    return _registered
