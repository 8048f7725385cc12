"""The dialing rules, in one place (product.md, invariants 3 and 5): do-not-call, calling hours,
destinations, and a campaign call's own window and status.

Every outbound call answers to them when it is queued and again right before each request that
dials it (telephony/rules.py says when telephony asks); the dispatcher asks them for each
contact it claims. Order matters only for the message: a destination that is never allowed is
reported before a number that is merely blocked or called at the wrong hour.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from campaigns.destinations import destination_problem, number_country
from campaigns.models import Campaign, CampaignAttempt, Contact
from campaigns.services.dnc import dnc_listed
from campaigns.windows import CallingWindow, NoTimeZone, contact_zones, is_open, next_opening
from telephony.models import Call, PhoneNumber
from telephony.rules import Refusal, Rule, register_dialing_rules


def allowed_countries() -> frozenset[str]:
    """CALL_ALLOWED_COUNTRIES, else the countries of the numbers we call from."""
    if settings.CALL_ALLOWED_COUNTRIES:
        return frozenset(settings.CALL_ALLOWED_COUNTRIES)
    callers = PhoneNumber.objects.filter(outbound=True).values_list("e164", flat=True)
    return frozenset(filter(None, (number_country(e164) for e164 in callers)))


@dataclass(frozen=True)
class RuleFacts:
    """What the rules read from the database, read once for a batch of calls (two queries,
    however many calls): the destinations allowed, and which of the batch's numbers are on the
    do-not-call list."""

    allowed_countries: frozenset[str]
    do_not_call: frozenset[str]
    numbers: frozenset[str]  # those read: a number outside them is not known to be listed

    @classmethod
    def for_numbers(cls, numbers: Iterable[str]) -> "RuleFacts":
        numbers = frozenset(numbers)
        return cls(
            allowed_countries=allowed_countries(), do_not_call=dnc_listed(numbers), numbers=numbers
        )

    @classmethod
    def reused_for(cls, facts: object | None, numbers: Iterable[str]) -> "RuleFacts":
        """`facts` if they were read for every one of `numbers`, else read now."""
        numbers = frozenset(numbers)
        if isinstance(facts, RuleFacts) and numbers <= facts.numbers:
            return facts
        return cls.for_numbers(numbers)


def campaign_window(campaign: Campaign) -> CallingWindow:
    return CallingWindow.for_campaign(
        start=campaign.window_start, end=campaign.window_end, weekdays=campaign.weekdays
    )


def _hours_refusal(
    to_number: str, callee_timezone: str, *, now: datetime, window: CallingWindow, rule: Rule
) -> Refusal | None:
    try:
        zones = contact_zones(to_number, callee_timezone)
    except NoTimeZone as error:
        return Refusal(Rule.CALLING_HOURS, f"{error}: its local time cannot be checked")
    if is_open(now, zones, window):
        return None
    hours = f"{window.start:%H:%M}-{window.end:%H:%M} local time"
    what = "the campaign's calling window" if rule == Rule.CAMPAIGN_WINDOW else "the calling hours"
    opening = next_opening(now, zones, window)
    if opening is None:
        return Refusal(
            rule,
            f"{what.capitalize()} ({hours}) is never open at once in all {len(zones)} time zones "
            f"of {to_number}; set the callee's time zone.",
        )
    local = ", ".join(f"{now.astimezone(zone):%a %H:%M} in {zone.key}" for zone in zones[:3])
    if len(zones) > 3:
        local += f" and {len(zones) - 3} more zones"
    return Refusal(
        rule,
        f"It is {local} for {to_number}: outside {what} ({hours}); next allowed at "
        f"{opening:%Y-%m-%d %H:%M} UTC.",
        opens_at=opening,
    )


def call_refusal(
    *,
    to_number: str,
    callee_timezone: str = "",
    now: datetime,
    window: CallingWindow | None = None,
    overridden: frozenset[Rule] = frozenset(),
    facts: RuleFacts | None = None,
) -> Refusal | None:
    """Why a call to `to_number` may not be made at `now`, or None. `window`: a campaign's
    (already inside the guard); without it the guard's hours apply every day. `facts`: read
    for a batch the number is in (else read for this number alone)."""
    facts = facts or RuleFacts.for_numbers([to_number])
    problem = destination_problem(to_number, allowed_countries=facts.allowed_countries)
    if problem:
        return Refusal(Rule.DESTINATION, problem + ".")
    if Rule.DO_NOT_CALL not in overridden and to_number in facts.do_not_call:
        return Refusal(Rule.DO_NOT_CALL, f"{to_number} is on the do-not-call list.")
    if window is None:
        if Rule.CALLING_HOURS in overridden:
            return None
        return _hours_refusal(
            to_number,
            callee_timezone,
            now=now,
            window=CallingWindow.guard_only(),
            rule=Rule.CALLING_HOURS,
        )
    return _hours_refusal(
        to_number, callee_timezone, now=now, window=window, rule=Rule.CAMPAIGN_WINDOW
    )


def campaign_call_refusal(
    *,
    campaign: Campaign,
    contact: Contact,
    now: datetime,
    window: CallingWindow | None = None,
    facts: RuleFacts | None = None,
) -> Refusal | None:
    """A campaign call: the campaign runs, and the contact may be called in its window."""
    if campaign.status != Campaign.Status.RUNNING:
        return Refusal(
            Rule.CAMPAIGN_STATUS,
            f"The campaign is {campaign.get_status_display().lower()}, not running.",
        )
    if campaign.end_at and now >= campaign.end_at:
        return Refusal(Rule.CAMPAIGN_STATUS, "The campaign's end time has passed.")
    return call_refusal(
        to_number=contact.phone,
        callee_timezone=contact.timezone,
        now=now,
        window=window or campaign_window(campaign),
        facts=facts,
    )


class CampaignDialingRules:
    """What telephony asks (telephony.rules.DialingRules)."""

    def new_call_refusals(
        self,
        *,
        calls: list[tuple[str, str]],
        now: datetime,
        overridden: frozenset[Rule] = frozenset(),
        facts: object | None = None,
    ) -> list[Refusal | None]:
        facts = RuleFacts.reused_for(facts, (to_number for to_number, _ in calls))
        return [
            call_refusal(
                to_number=to_number,
                callee_timezone=callee_timezone,
                now=now,
                overridden=overridden,
                facts=facts,
            )
            for to_number, callee_timezone in calls
        ]

    def new_call_refusal(
        self, *, to_number: str, callee_timezone: str, now: datetime, overridden: frozenset[Rule]
    ) -> Refusal | None:
        [refusal] = self.new_call_refusals(
            calls=[(to_number, callee_timezone)], now=now, overridden=overridden
        )
        return refusal

    def placement_refusals(self, *, calls: list[Call], now: datetime) -> dict[str, Refusal]:
        """Three queries for the whole batch: the campaign attempts, the destinations, the
        do-not-call entries."""
        attempts = {
            attempt.call_id: attempt
            for attempt in CampaignAttempt.objects.select_related(
                "campaign", "campaign_contact__contact"
            ).filter(call__in=[call.pk for call in calls])
        }
        facts = RuleFacts.for_numbers(call.to_number for call in calls)
        windows: dict[int, CallingWindow] = {}
        refusals = {}
        for call in calls:
            attempt = attempts.get(call.pk)
            if attempt is not None:
                campaign = attempt.campaign
                if campaign.pk not in windows:
                    windows[campaign.pk] = campaign_window(campaign)
                refusal = campaign_call_refusal(
                    campaign=campaign,
                    contact=attempt.campaign_contact.contact,
                    now=now,
                    window=windows[campaign.pk],
                    facts=facts,
                )
            else:
                refusal = call_refusal(
                    to_number=call.to_number,
                    callee_timezone=call.callee_timezone,
                    now=now,
                    overridden=call.overridden_rules,
                    facts=facts,
                )
            if refusal is not None:
                refusals[str(call.pk)] = refusal
        return refusals

    def placement_refusal(self, *, call: Call, now: datetime) -> Refusal | None:
        return self.placement_refusals(calls=[call], now=now).get(str(call.pk))


def register() -> None:
    register_dialing_rules(CampaignDialingRules())
