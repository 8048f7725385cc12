"""The dialing rules every outbound call answers to (product.md, invariants 3 and 5).

Telephony asks them twice for every call: when the call is queued (`call_create`: single calls
from the API, the admin and the command, and the dispatcher's campaign calls) and again right
before each HTTP request that places it (`call_place`, retries included). The rules themselves
(do-not-call, call frequency, calling hours with the regional hours, holidays and blackout
dates, destinations, a campaign's own window and status) live in
`campaigns.services.dialing_rules`, which registers them when the app loads: telephony
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
    REGIONAL_HOURS = "regional_hours"  # the callee's region's rules (weekday hours, no-call days)
    PUBLIC_HOLIDAY = "public_holiday"  # of the callee's country, state or province
    BLACKOUT_DATE = "blackout_date"  # the company's days without calls
    CONSENT = "consent"  # a campaign requiring prior express consent, a contact without it
    CAMPAIGN_STATUS = "campaign_status"


# How pages and exports name each rule.
RULE_LABELS = {
    Rule.DESTINATION: "Destination not allowed",
    Rule.DO_NOT_CALL: "Do-not-call list",
    Rule.CALL_FREQUENCY: "Call limits per number",
    Rule.CALLING_HOURS: "Calling hours",
    Rule.CAMPAIGN_WINDOW: "Campaign's calling window",
    Rule.REGIONAL_HOURS: "Regional calling hours",
    Rule.PUBLIC_HOLIDAY: "Public holiday",
    Rule.BLACKOUT_DATE: "Company blackout date",
    Rule.CONSENT: "No consent",
    Rule.CAMPAIGN_STATUS: "Campaign not running",
}

# What staff holding `telephony.override_dialing_rules` may override for one call (an emergency
# call, say). Destinations (toll fraud) and a campaign's own rules are never overridden.
# Overriding the calling hours lifts every rule of when (the guard, the region's hours,
# holidays, blackout dates).
OVERRIDABLE_RULES = frozenset({Rule.DO_NOT_CALL, Rule.CALLING_HOURS})
# The rules of when a call may be made: a contact they hold back waits for the next opening.
TIME_RULES = frozenset(
    {Rule.CALLING_HOURS, Rule.CAMPAIGN_WINDOW, Rule.REGIONAL_HOURS, Rule.PUBLIC_HOLIDAY,
     Rule.BLACKOUT_DATE}
)  # fmt: skip


@dataclass(frozen=True)
class Refusal:
    rule: Rule
    message: str
    # The time rules and call frequency: the next instant the call would be allowed (None:
    # never, as things stand).
    opens_at: datetime | None = None
    # True when opens_at is only when to look again (the calendar leaves no opening in sight).
    look_again: bool = False


@dataclass(frozen=True)
class CallTarget:
    """Who a new call is to, as the rules need it: the number, the callee's time zone and region
    when known (else the number's), and whether the call may be made on public holidays (a
    campaign allowing them)."""

    to_number: str
    callee_timezone: str = ""
    callee_region: str = ""
    holidays_allowed: bool = False


@dataclass(frozen=True)
class Allowed:
    """No rule refuses the call: what the rules checked it against then (its region, local time,
    hours that day, holidays, call limits, overrides), kept on the call for the compliance log."""

    applied: dict


@dataclass(frozen=True)
class RulesOverride:
    """Staff placing one call past OVERRIDABLE_RULES: who (holding the permission) and why."""

    user: "AbstractBaseUser"
    reason: str


class CallRefused(ValidationError):
    """A call the dialing rules refuse; a form or API error on the callee's number."""

    def __init__(
        self,
        refusal: Refusal,
        *,
        target: CallTarget | None = None,
        scheduled_for: datetime | None = None,
    ) -> None:
        super().__init__({"to_number": [refusal.message]}, code=refusal.rule.value)
        self.refusal = refusal
        self.target = target  # the call refused, as checked (its number in E.164)
        self.scheduled_for = scheduled_for


class DialingRules(Protocol):
    def new_call_refusal(
        self, *, target: CallTarget, now: datetime, overridden: frozenset[Rule]
    ) -> Refusal | None:
        """Why a single call to `target` may not be queued now, or None."""
        ...

    def new_call_checks(
        self,
        *,
        calls: list[CallTarget],
        now: datetime,
        overridden: frozenset[Rule] = frozenset(),
        facts: object | None = None,
    ) -> list[Refusal | Allowed]:
        """`new_call_refusals`, with what was checked for each call allowed."""
        ...

    def new_call_refusals(
        self,
        *,
        calls: list[CallTarget],
        now: datetime,
        overridden: frozenset[Rule] = frozenset(),
        facts: object | None = None,
    ) -> list[Refusal | None]:
        """The same for many calls at once: one answer per call, in order (the rules read the
        database once for all of them).
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
