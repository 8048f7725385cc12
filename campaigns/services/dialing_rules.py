"""The dialing rules, in one place (product.md, invariants 3 and 5): do-not-call, call
frequency, calling hours (the guard or a campaign's window, narrowed by the calling calendar:
the callee's region's rules, its public holidays, the blackout dates), destinations, and a
campaign call's own status.

Every outbound call answers to them when it is queued and again right before each request that
dials it (telephony/rules.py says when telephony asks); the dispatcher asks them for each
contact it claims. Order matters only for the message: a destination that is never allowed is
reported before a number that is merely blocked or called at the wrong hour.

Call frequency counts every call to the number (any campaign, single calls) made or booked
within 24 hours / 7 days of the new one. It is counted where calls are booked (queued) under a
lock per number held to the booking's commit (`RuleFacts.for_numbers(..., booking=True)`), so
two dispatchers or workers booking the same number count each other; a booked call counts at
once.
Right before dialing it is counted again without the lock: every other call to the number
counts, so that check can only be stricter than the booking's.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.db.models.functions import Coalesce

from campaigns.destinations import destination_problem, number_country
from campaigns.models import WEEKDAYS, Campaign, CampaignAttempt, Contact
from campaigns.services.calling_calendar import CallingCalendar, skips_holidays
from campaigns.services.dnc import dnc_listed
from campaigns.windows import CallingWindow, NoTimeZone, contact_zones, is_open, next_opening
from telephony.callee_regions import Region
from telephony.callee_regions import callee_region as callee_region_of
from telephony.models import Call, PhoneNumber
from telephony.rules import Allowed, CallTarget, Refusal, Rule, register_dialing_rules
from telephony.states import CallStatus

WEEKDAY_NAMES = dict(WEEKDAYS)
DAY = timedelta(hours=24)
WEEK = timedelta(days=7)
_NUMBER_LOCK_CLASS = 7_310_202  # advisory lock (class, hashtext(number)): one per callee number


def allowed_countries() -> frozenset[str]:
    """CALL_ALLOWED_COUNTRIES, else the countries of the numbers we call from."""
    if settings.CALL_ALLOWED_COUNTRIES:
        return frozenset(settings.CALL_ALLOWED_COUNTRIES)
    callers = PhoneNumber.objects.filter(outbound=True).values_list("e164", flat=True)
    return frozenset(filter(None, (number_country(e164) for e164 in callers)))


@dataclass(frozen=True)
class CallLimits:
    """At most `per_24h` calls to one number in any 24 hours and `per_7d` in any 7 days,
    counting every campaign's and single call (0: no limit)."""

    per_24h: int
    per_7d: int

    @classmethod
    def from_settings(cls) -> "CallLimits":
        return cls(settings.NUMBER_CALLS_PER_24H, settings.NUMBER_CALLS_PER_7D)

    @classmethod
    def for_campaign(cls, campaign: Campaign) -> "CallLimits":
        """The campaign's own limits where it sets them, never looser than the settings' (as
        its window never reaches past the guard): the account's limits may be the law's."""
        account = cls.from_settings()
        return cls(
            _stricter(account.per_24h, campaign.calls_per_number_24h),
            _stricter(account.per_7d, campaign.calls_per_number_7d),
        )

    def spans(self) -> list[tuple[int, timedelta, str]]:
        """(limit, span, its name) of each limit in force."""
        return [
            (limit, span, name)
            for limit, span, name in (
                (self.per_24h, DAY, "24 hours"),
                (self.per_7d, WEEK, "7 days"),
            )
            if limit
        ]


def _stricter(account: int, campaign: int | None) -> int:
    """The stricter of two limits, 0 meaning none."""
    limits = [limit for limit in (account, campaign or 0) if limit]
    return min(limits) if limits else 0


# A call that was never sent to Agora does not count: ended (canceled or failed) with no
# request out (hung up while queued, its request impossible to build), or stopped by the rules
# right before its first request. (A call's dialed_at does not tell: ending sets it.) One ended
# after a request that may have reached Agora (a timeout, then a retry stopped) counts: a limit
# errs on the side of calling less.
_NOT_AN_ATTEMPT = Q(status__in=[CallStatus.CANCELED, CallStatus.FAILED], agent_id__isnull=True) & (
    Q(placement_attempts=0) | (Q(placement_attempts=1) & ~Q(refused_by_rule=""))
)


def lock_numbers(numbers: Iterable[str]) -> None:
    """Serialise the booking of calls to these numbers (inside a transaction, to its end):
    PostgreSQL advisory locks, one per number, taken in one order (no deadlock between two
    bookers of overlapping numbers). SQLite runs one write transaction at a time already."""
    numbers = sorted(set(numbers))
    if connection.vendor != "postgresql" or not numbers:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, key) FROM "
            "(SELECT DISTINCT hashtext(number) AS key FROM unnest(%s::text[]) AS number "
            "ORDER BY key) AS keys",
            [_NUMBER_LOCK_CLASS, numbers],
        )


def recent_calls(numbers: Iterable[str], *, now: datetime) -> dict[str, list[tuple[datetime, str]]]:
    """Each number's calls that count against the limits, made or booked since a week before
    `now` (future ones included): (when, call id), when being the dial time, else the time it
    is booked for. One query."""
    calls: dict[str, list[tuple[datetime, str]]] = {}
    rows = (
        Call.objects.filter(direction=Call.Direction.OUTBOUND, to_number__in=set(numbers))
        .exclude(_NOT_AN_ATTEMPT)
        .annotate(attempt_at=Coalesce("dialed_at", "scheduled_for", "queued_at"))
        .filter(attempt_at__gt=now - WEEK)
        .values_list("to_number", "attempt_at", "id")
    )
    for number, attempt_at, call_id in rows:
        calls.setdefault(number, []).append((attempt_at, str(call_id)))
    return calls


@dataclass(frozen=True)
class RuleFacts:
    """What the rules read from the database, read once for a batch of calls (a few queries,
    however many calls): the destinations allowed, which of the batch's numbers are on the
    do-not-call list, and each number's recent calls (for the call limits, `limits` unless a
    caller gives its own)."""

    allowed_countries: frozenset[str]
    do_not_call: frozenset[str]
    numbers: frozenset[str]  # those read: a number outside them is not known to be listed
    recent: dict[str, list[tuple[datetime, str]]]
    limits: CallLimits
    calendar: CallingCalendar  # regional rules, holidays, blackout dates
    # Calls this batch accepted (call_refusals): counted for the batch's later calls.
    booked: dict[str, list[datetime]] = field(default_factory=dict)

    @classmethod
    def for_numbers(
        cls,
        numbers: Iterable[str],
        *,
        now: datetime,
        limits: CallLimits | None = None,
        booking: bool = True,
    ) -> "RuleFacts":
        """`booking`: calls will be booked from these facts in this transaction, so the numbers
        are locked before their calls are counted (see the module's docstring)."""
        numbers = frozenset(numbers)
        if booking:
            lock_numbers(numbers)
        return cls(
            allowed_countries=allowed_countries(),
            do_not_call=dnc_listed(numbers),
            numbers=numbers,
            recent=recent_calls(numbers, now=now),
            limits=limits or CallLimits.from_settings(),
            calendar=CallingCalendar.load(now=now),
        )

    @classmethod
    def reused_for(
        cls, facts: object | None, numbers: Iterable[str], *, now: datetime
    ) -> "RuleFacts":
        """`facts` if they were read for every one of `numbers`, else read now."""
        numbers = frozenset(numbers)
        if isinstance(facts, RuleFacts) and numbers <= facts.numbers:
            return facts
        return cls.for_numbers(numbers, now=now)


def _frequency_refusal(
    to_number: str, *, now: datetime, facts: RuleFacts, limits: CallLimits, call_id: str | None
) -> Refusal | None:
    """Refused when the number's calls within 24 hours (or 7 days) of `now`, before or after
    it (this batch's and those booked for later included, `call_id` itself not), reach a limit;
    allowed again once enough of them are older than the span. Counting both sides is stricter
    than any one 24 hours needs, and keeps a call booked a little later (or stamped by a clock
    a little ahead) from being missed; a call booked days ahead counts only near its time."""
    times = sorted(
        [at for at, other in facts.recent.get(to_number, ()) if other != call_id]
        + facts.booked.get(to_number, [])
    )
    worst = None
    for limit, span, name in limits.spans():
        within = [at for at in times if now - span < at < now + span]
        if len(within) >= limit:
            opens_at = within[len(within) - limit] + span
            if worst is None or opens_at > worst[0]:
                worst = (opens_at, limit, name, len(within))
    if worst is None:
        return None
    opens_at, limit, name, count = worst
    return Refusal(
        Rule.CALL_FREQUENCY,
        f"{to_number} has {count} call{'s' if count != 1 else ''} within {name} (at most "
        f"{limit}, counting every campaign and single call); next allowed at "
        f"{opens_at:%Y-%m-%d %H:%M} UTC.",
        opens_at=opens_at,
    )


def campaign_window(campaign: Campaign) -> CallingWindow:
    """The campaign's own window inside the guard (the same for every contact)."""
    return CallingWindow.for_campaign(
        start=campaign.window_start, end=campaign.window_end, weekdays=campaign.weekdays
    )


def contact_window(
    campaign: Campaign, contact: Contact, *, calendar: CallingCalendar
) -> CallingWindow:
    """When the campaign may call this contact: its window narrowed by the contact's region's
    rules, holidays (unless the campaign allows them) and the blackout dates."""
    return calendar.window_for(
        campaign_window(campaign),
        callee_region_of(contact.phone, contact.region),
        skip_holidays=skips_holidays(campaign.call_on_holidays),
    )


def _hours_refusal(
    to_number: str,
    callee_timezone: str,
    callee_region: str,
    *,
    now: datetime,
    base: CallingWindow,
    rule: Rule,
    calendar: CallingCalendar,
    skip_holidays: bool,
) -> Refusal | None:
    """Whether `now` is inside the callee's effective window: `base` (the campaign's window or
    the guard) narrowed by its region's rules, holidays and the blackout dates. A refusal
    names the first rule that closes it, in its first zone that is closed."""
    try:
        zones = contact_zones(to_number, callee_timezone)
    except NoTimeZone as error:
        return Refusal(Rule.CALLING_HOURS, f"{error}: its local time cannot be checked")
    region = callee_region_of(to_number, callee_region)
    window = calendar.window_for(base, region, skip_holidays=skip_holidays)
    if is_open(now, zones, window):
        return None
    closed_zone = next(zone for zone in zones if not is_open(now, (zone,), window))
    local = now.astimezone(closed_zone)
    rule, why = _what_closes(local, region, base=base, base_rule=rule, calendar=calendar,
                             skip_holidays=skip_holidays)  # fmt: skip
    opening = next_opening(now, zones, window)
    if opening is None and next_opening(now, zones, base) is None:
        return Refusal(  # no opening whatever the calendar: the callee's data is at fault
            rule,
            f"{why[:1].upper()}{why[1:]}, and the calls allowed to {to_number} never open at "
            f"once in all {len(zones)} of its time zones; set the callee's time zone.",
        )
    if opening is None:  # the calendar closes every day for now: looked at again tomorrow
        again = now + DAY
        return Refusal(
            rule,
            f"{why[:1].upper()}{why[1:]}; the regional rules and blackout dates leave no "
            f"opening for {to_number} within a year: looked at again at "
            f"{again:%Y-%m-%d %H:%M} UTC.",
            opens_at=again,
            look_again=True,
        )
    where = ", ".join(f"{now.astimezone(zone):%a %H:%M} in {zone.key}" for zone in zones[:3])
    if len(zones) > 3:
        where += f" and {len(zones) - 3} more zones"
    return Refusal(
        rule,
        f"It is {where} for {to_number}: {why}; next allowed at {opening:%Y-%m-%d %H:%M} UTC.",
        opens_at=opening,
    )


def _what_closes(
    local: datetime,
    region: Region | None,
    *,
    base: CallingWindow,
    base_rule: Rule,
    calendar: CallingCalendar,
    skip_holidays: bool,
) -> tuple[Rule, str]:
    """The rule that keeps calls off at `local` (a callee's local time), and why in words."""
    day = local.date()
    if day in calendar.blackouts:
        return Rule.BLACKOUT_DATE, f"{day} is a company blackout date ({calendar.blackouts[day]})"
    holiday = calendar.holidays_of(region).get(day) if skip_holidays else None
    if holiday:
        return Rule.PUBLIC_HOLIDAY, f"{day} is {holiday}, a public holiday in {region}"
    hours = base.base_hours_on(day)
    if hours is None or not hours[0] <= local.time().replace(tzinfo=None) < hours[1]:
        what = (
            "the campaign's calling window" if base_rule == Rule.CAMPAIGN_WINDOW
            else "the calling hours"
        )  # fmt: skip
        return base_rule, f"outside {what} ({_hours_words(base)} local time)"
    allowed = calendar.window_for(base, region, skip_holidays=False).hours_on(day)
    sources = "; ".join(sorted({r.source for r in calendar.rules_of(region) if r.source}))
    allowed_words = f"{allowed[0]:%H:%M}-{allowed[1]:%H:%M}" if allowed else "no calls"
    return Rule.REGIONAL_HOURS, (
        f"outside the calling hours of {region} on {local:%A}s ({allowed_words}"
        + (f"; {sources}" if sources else "")
        + ")"
    )


def _hours_words(window: CallingWindow) -> str:
    days = sorted(window.weekdays)
    hours = f"{window.start:%H:%M}-{window.end:%H:%M}"
    if len(days) == 7:
        return hours
    return f"{hours}, {', '.join(WEEKDAY_NAMES[day] for day in days)}"


def call_refusal(
    *,
    to_number: str,
    callee_timezone: str = "",
    callee_region: str = "",
    now: datetime,
    window: CallingWindow | None = None,
    call_on_holidays: bool = False,
    overridden: frozenset[Rule] = frozenset(),
    facts: RuleFacts | None = None,
    limits: CallLimits | None = None,
    call_id: str | None = None,
    missing_consent: bool = False,
) -> Refusal | None:
    """Why a call to `to_number` may not be made at `now`, or None.

    `window`: a campaign's (already inside the guard); without it the guard's hours apply every
    day. Either way the callee's region's rules, its public holidays (unless
    `call_on_holidays`) and the blackout dates narrow it. `missing_consent`: a campaign
    requires prior express consent and the callee has none on record. `facts`: read for a
    batch the number is in (else read for this number alone). `limits`: the call limits
    (default: the facts'). `call_id`: the call being checked, when it exists already (right
    before dialing): not counted against itself."""
    facts = facts or RuleFacts.for_numbers([to_number], now=now)
    problem = destination_problem(to_number, allowed_countries=facts.allowed_countries)
    if problem:
        return Refusal(Rule.DESTINATION, problem + ".")
    if Rule.DO_NOT_CALL not in overridden and to_number in facts.do_not_call:
        return Refusal(Rule.DO_NOT_CALL, f"{to_number} is on the do-not-call list.")
    if missing_consent:
        return Refusal(
            Rule.CONSENT,
            f"{to_number} has no prior express consent on record for calls by an AI agent, "
            "which the campaign requires.",
        )
    refusal = _frequency_refusal(
        to_number, now=now, facts=facts, limits=limits or facts.limits, call_id=call_id
    )
    if refusal is not None:
        return refusal
    if window is None and Rule.CALLING_HOURS in overridden:
        return None
    return _hours_refusal(
        to_number,
        callee_timezone,
        callee_region,
        now=now,
        base=window or CallingWindow.guard_only(),
        rule=Rule.CALLING_HOURS if window is None else Rule.CAMPAIGN_WINDOW,
        calendar=facts.calendar,
        skip_holidays=skips_holidays(call_on_holidays),
    )


def rules_applied(
    target: CallTarget, *, now: datetime, facts: RuleFacts, overridden: frozenset[Rule]
) -> dict:
    """What a call allowed at `now` was checked against, in words and figures, for the
    compliance log: the callee's region and local time, that day's hours (the guard narrowed by
    the region's rules; a campaign's own window is on the campaign), whether holidays kept calls
    off, the call limits and the number's calls counted, and any rule overridden."""
    region = callee_region_of(target.to_number, target.callee_region)
    skip_holidays = skips_holidays(target.holidays_allowed)
    applied: dict = {
        "region": region.code if region else "",
        "regional_rules": sorted(
            {rule.source for rule in facts.calendar.rules_of(region) if rule.source}
        ),
        "public_holidays": "kept off" if skip_holidays else "allowed",
        "do_not_call": "not listed" if target.to_number not in facts.do_not_call else "listed",
        "limits": {"per_24h": facts.limits.per_24h, "per_7d": facts.limits.per_7d},
        "calls_within_24h": sum(
            1 for at, _ in facts.recent.get(target.to_number, ()) if now - DAY < at < now + DAY
        )
        + sum(1 for at in facts.booked.get(target.to_number, ()) if now - DAY < at < now + DAY),
        "overridden": sorted(rule.value for rule in overridden),
    }
    try:
        zones = contact_zones(target.to_number, target.callee_timezone)
    except NoTimeZone:
        return applied
    window = facts.calendar.window_for(
        CallingWindow.guard_only(), region, skip_holidays=skip_holidays
    )
    local = now.astimezone(zones[0])
    hours = window.hours_on(local.date())
    applied["local_time"] = f"{local:%Y-%m-%d %a %H:%M} {zones[0].key}"
    applied["hours_that_day"] = f"{hours[0]:%H:%M}-{hours[1]:%H:%M}" if hours else "no calls"
    return applied


def campaign_call_refusal(
    *,
    campaign: Campaign,
    contact: Contact,
    now: datetime,
    window: CallingWindow | None = None,
    facts: RuleFacts | None = None,
    call_id: str | None = None,
) -> Refusal | None:
    """A campaign call: the campaign runs, and the contact may be called in its window and
    within the campaign's call limits. `call_id`: as for call_refusal."""
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
        callee_region=contact.region,
        now=now,
        window=window or campaign_window(campaign),
        call_on_holidays=campaign.call_on_holidays,
        missing_consent=campaign.require_consent and not contact.consent,
        facts=facts,
        limits=CallLimits.for_campaign(campaign),
        call_id=call_id,
    )


class CampaignDialingRules:
    """What telephony asks (telephony.rules.DialingRules)."""

    def new_call_checks(
        self,
        *,
        calls: list[CallTarget],
        now: datetime,
        overridden: frozenset[Rule] = frozenset(),
        facts: object | None = None,
    ) -> list[Refusal | Allowed]:
        facts = RuleFacts.reused_for(facts, (target.to_number for target in calls), now=now)
        answers: list[Refusal | Allowed] = []
        for target in calls:
            refusal = call_refusal(
                to_number=target.to_number,
                callee_timezone=target.callee_timezone,
                callee_region=target.callee_region,
                call_on_holidays=target.holidays_allowed,
                now=now,
                overridden=overridden,
                facts=facts,
            )
            if refusal is not None:
                answers.append(refusal)
                continue
            answers.append(
                Allowed(rules_applied(target, now=now, facts=facts, overridden=overridden))
            )
            # booked: the batch's next call to the number counts it
            facts.booked.setdefault(target.to_number, []).append(now)
        return answers

    def new_call_refusals(
        self,
        *,
        calls: list[CallTarget],
        now: datetime,
        overridden: frozenset[Rule] = frozenset(),
        facts: object | None = None,
    ) -> list[Refusal | None]:
        checks = self.new_call_checks(calls=calls, now=now, overridden=overridden, facts=facts)
        return [answer if isinstance(answer, Refusal) else None for answer in checks]

    def new_call_refusal(
        self, *, target: CallTarget, now: datetime, overridden: frozenset[Rule]
    ) -> Refusal | None:
        [refusal] = self.new_call_refusals(calls=[target], now=now, overridden=overridden)
        return refusal

    def placement_refusals(self, *, calls: list[Call], now: datetime) -> dict[str, Refusal]:
        """Six queries for the whole batch: the campaign attempts, the destinations, the
        do-not-call entries, the numbers' recent calls, the regional rules, the blackout dates."""
        attempts = {
            attempt.call_id: attempt
            for attempt in CampaignAttempt.objects.select_related(
                "campaign", "campaign_contact__contact"
            ).filter(call__in=[call.pk for call in calls])
        }
        # Not booking: these calls are booked already (and counted, see the docstring).
        facts = RuleFacts.for_numbers((call.to_number for call in calls), now=now, booking=False)
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
                    call_id=str(call.pk),
                )
            else:
                refusal = call_refusal(
                    to_number=call.to_number,
                    callee_timezone=call.callee_timezone,
                    callee_region=call.callee_region,
                    now=now,
                    overridden=call.overridden_rules,
                    facts=facts,
                    call_id=str(call.pk),
                )
            if refusal is not None:
                refusals[str(call.pk)] = refusal
        return refusals

    def placement_refusal(self, *, call: Call, now: datetime) -> Refusal | None:
        return self.placement_refusals(calls=[call], now=now).get(str(call.pk))


def register() -> None:
    register_dialing_rules(CampaignDialingRules())
