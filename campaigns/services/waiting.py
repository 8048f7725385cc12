"""Why a campaign is not calling (more) right now, in words staff can act on.

`campaigns_waiting` explains campaigns that are scheduled, running or paused, in a fixed number
of grouped queries whatever their number (the campaign list and its 2-second poll show it);
`campaign_start_preview` tells, before a draft starts, how many of its contacts could be called
at once and when the others' calling windows open (the Start confirmation shows it).

The reasons are the dispatcher's own (campaigns/services/dispatch.py): contacts deferred to
their window's next opening or until their number's call limits allow, contacts waiting for a
retry, the campaign's lines, the account's
cap and the per-minute pace all in use, no caller ID able to call.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from campaigns.models import Campaign, CampaignAttempt, CampaignContact, Contact, DoNotCall
from campaigns.services.calling_calendar import CallingCalendar, skips_holidays
from campaigns.services.dialing_rules import campaign_window
from campaigns.states import WAITING_CONTACT_STATUSES
from campaigns.windows import NoTimeZone, contact_zones, is_open, next_opening
from telephony.callee_regions import callee_region
from telephony.models import Call
from telephony.services.capacity import BOOKED_STATUSES, booked_call_count

S = Campaign.Status
CS = CampaignContact.Status
EXPLAINED_STATUSES = (S.SCHEDULED, S.RUNNING, S.PAUSED)
# contact_record_refusal's note for a contact deferred to its window's next opening
WINDOW_NOTE = "outside its calling window"
# ... and for one deferred until its number's call limits allow another call
FREQUENCY_NOTE = "held back by its number's call limits"


def in_words(delta: timedelta) -> str:
    """'in 7 h 25 min', 'in 40 s', 'in 2 days 3 h': how long until something, for people."""
    seconds = max(0, math.ceil(delta.total_seconds()))  # rounded up: never sooner than it is
    if seconds < 60:
        return f"in {seconds} s"
    minutes = math.ceil(seconds / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    return "in " + " ".join(parts)


def _contacts(count: int, plural_verb: str = "", singular_verb: str = "") -> str:
    """'2 contacts wait', '1 contact waits'."""
    noun = f"{count} contact{'s' if count != 1 else ''}"
    verb = plural_verb if count != 1 else singular_verb
    return f"{noun} {verb}" if verb else noun


def _opening_words(at: datetime, now: datetime, local: datetime | None = None) -> str:
    """When a window opens: UTC and how soon, and the callee's wall-clock time when known (a
    region's rules or a holiday may move it off the campaign's start)."""
    utc = f"{at:%Y-%m-%d %H:%M} UTC"
    if local is None:
        return f"{utc} ({in_words(at - now)})"
    return f"{local:%H:%M} their time ({utc}, {in_words(at - now)})"


def campaigns_waiting(
    campaigns: Iterable[Campaign], *, now: datetime | None = None
) -> dict[int, list[str]]:
    """For each campaign, why it waits (an empty list: nothing holds it back)."""
    now = now or timezone.now()
    campaigns = list(campaigns)
    reasons: dict[int, list[str]] = {campaign.pk: [] for campaign in campaigns}
    active = [campaign for campaign in campaigns if campaign.status in EXPLAINED_STATUSES]
    if not active:
        return reasons
    ids = [campaign.pk for campaign in active]
    waiting = Q(status__in=WAITING_CONTACT_STATUSES)
    later = waiting & Q(next_attempt_at__gt=now)
    for_callback = later & Q(status=CS.CALLBACK_SCHEDULED)
    for_window = later & ~for_callback & Q(note__startswith=WINDOW_NOTE)
    for_limits = later & ~for_callback & Q(note__startswith=FREQUENCY_NOTE)
    for_retry = later & ~for_callback & ~for_window & ~for_limits
    contacts = {
        row["campaign_id"]: row
        for row in CampaignContact.objects.filter(campaign_id__in=ids)
        .order_by()
        .values("campaign_id")
        .annotate(
            due=Count("id", filter=waiting & Q(next_attempt_at__lte=now)),
            on_a_call=Count("id", filter=Q(status=CS.IN_PROGRESS)),
            window=Count("id", filter=for_window),
            window_next=Min("next_attempt_at", filter=for_window),
            limits=Count("id", filter=for_limits),
            limits_next=Min("next_attempt_at", filter=for_limits),
            retry=Count("id", filter=for_retry),
            retry_next=Min("next_attempt_at", filter=for_retry),
            callback=Count("id", filter=for_callback),
            callback_next=Min("next_attempt_at", filter=for_callback),
        )
    }
    callers = Counter(
        dict(
            Campaign.objects.filter(pk__in=ids)
            .annotate(n=Count("caller_ids", filter=Q(caller_ids__outbound=True)))
            .values_list("pk", "n")
        )
    )
    booked = Counter(
        dict(
            Call.objects.filter(campaign_attempt__campaign_id__in=ids, status__in=BOOKED_STATUSES)
            .order_by()
            .values_list("campaign_attempt__campaign_id")
            .annotate(n=Count("id"))
        )
    )
    started = Counter(
        dict(
            CampaignAttempt.objects.filter(
                campaign_id__in=ids, created_at__gt=now - timedelta(minutes=1)
            )
            .order_by()
            .values_list("campaign_id")
            .annotate(n=Count("id"))
        )
    )
    account_booked = booked_call_count()
    for campaign in active:
        reasons[campaign.pk] = _reasons(
            campaign,
            contacts.get(campaign.pk, {}),
            callers=callers[campaign.pk],
            booked=booked[campaign.pk],
            started=started[campaign.pk],
            account_booked=account_booked,
            now=now,
        )
    return reasons


def _reasons(
    campaign: Campaign,
    counts: dict,
    *,
    callers: int,
    booked: int,
    started: int,
    account_booked: int,
    now: datetime,
) -> list[str]:
    said = []
    if campaign.status == S.SCHEDULED and campaign.start_at:
        said.append(
            f"Starts at {campaign.start_at:%Y-%m-%d %H:%M} UTC "
            f"({in_words(campaign.start_at - now)})."
        )
    if campaign.status == S.PAUSED:
        said.append(campaign.paused_reason or "Paused: no new calls until it is resumed.")
    due = counts.get("due", 0)
    if not callers:
        said.append("No caller ID of this campaign can place calls: add an outbound number.")
    elif due and campaign.status == S.RUNNING:
        cap = settings.AGORA_MAX_CONCURRENT_CALLS
        if booked >= campaign.max_concurrent_calls:
            lines = campaign.max_concurrent_calls
            said.append(
                f"This campaign's {lines} line{'s are' if lines != 1 else ' is'} in use: "
                f"{_contacts(due, 'due wait', 'due waits')} for one."
            )
        elif account_booked >= cap:
            said.append(
                f"The account's {cap} concurrent call{'s are all' if cap != 1 else ' is'} in use: "
                f"{_contacts(due, 'due wait', 'due waits')} for a line."
            )
        elif started >= campaign.max_calls_per_minute:
            pace = campaign.max_calls_per_minute
            said.append(
                f"The pace of {pace} call{'s' if pace != 1 else ''} a minute is used up: "
                f"{_contacts(due, 'due are', 'due is')} called within a minute."
            )
    if counts.get("window"):
        said.append(
            f"{_contacts(counts['window'], 'wait', 'waits')} for their calling window: the next "
            f"opens at {_opening_words(counts['window_next'], now)}."
        )
    if counts.get("limits"):
        said.append(
            f"{_contacts(counts['limits'], 'are', 'is')} held back by the call limits of their "
            "numbers (calls from every campaign and single call count): the next may be called "
            f"at {counts['limits_next']:%Y-%m-%d %H:%M} UTC "
            f"({in_words(counts['limits_next'] - now)})."
        )
    if counts.get("retry"):
        said.append(
            f"{_contacts(counts['retry'], 'wait', 'waits')} for a retry: the next at "
            f"{counts['retry_next']:%Y-%m-%d %H:%M} UTC ({in_words(counts['retry_next'] - now)})."
        )
    if counts.get("callback"):
        said.append(
            f"{_contacts(counts['callback'], 'wait', 'waits')} for the callback they asked for: "
            f"the next at {counts['callback_next']:%Y-%m-%d %H:%M} UTC "
            f"({in_words(counts['callback_next'] - now)})."
        )
    later = any(counts.get(kind) for kind in ("window", "limits", "retry", "callback"))
    if campaign.status == S.RUNNING and not (due or later):
        if counts.get("on_a_call"):
            said.append(
                f"Every contact is done or on a call ({counts['on_a_call']} on a call): it "
                "completes when the last call ends."
            )
        else:
            said.append("Every contact is done: it completes at the dispatcher's next run.")
    return said


# -- before a draft starts ------------------------------------------------------------------------


@dataclass
class StartPreview:
    """What starting `campaign` now would do to its contacts (each contact once)."""

    contacts: int = 0
    callable_now: int = 0
    do_not_call: int = 0
    no_time_zone: int = 0
    never_open: int = 0
    no_consent: int = 0
    waiting: int = 0
    next_opening: datetime | None = None
    next_opening_local: datetime | None = None  # in the first zone of a contact it opens for
    openings: Counter = field(default_factory=Counter)  # opening instant -> contacts

    def sentences(self, campaign: Campaign, now: datetime) -> list[str]:
        said = [f"{_contacts(self.contacts)} in its lists; {self.callable_now} can be called now."]
        if self.waiting:
            said.append(
                f"{_contacts(self.waiting, 'wait', 'waits')} for their calling window: the next "
                f"opens at {_opening_words(self.next_opening, now, self.next_opening_local)}."
            )
        if self.do_not_call:
            said.append(
                f"{_contacts(self.do_not_call, 'are', 'is')} on the do-not-call list: not called."
            )
        if self.no_consent:
            said.append(
                f"{_contacts(self.no_consent, 'have', 'has')} no prior express consent on record, "
                "which this campaign requires: not called (record their consent, or turn the "
                "requirement off if it does not apply)."
            )
        if self.no_time_zone:
            said.append(
                f"{_contacts(self.no_time_zone, 'have', 'has')} no known time zone and will not "
                "be called: set their timezone."
            )
        if self.never_open:
            said.append(
                f"{_contacts(self.never_open)}: the window never opens for them within a year "
                "(their region's calling hours, holidays and blackout dates close it, or it is "
                "never open at once in all the time zones their number may be in); set their "
                "timezone or region."
            )
        return said


def campaign_start_preview(campaign: Campaign, *, now: datetime | None = None) -> StartPreview:
    """Each contact's window checked as the dispatcher will (the campaign's window narrowed to
    the calling-hours guard and the contact's region's rules, holidays and blackout dates, in
    the callee's local time); each (zones, region)'s answer is worked out once."""
    now = now or timezone.now()
    calendar = CallingCalendar.load(now=now)
    base = campaign_window(campaign)
    skip_holidays = skips_holidays(campaign.call_on_holidays)
    contacts = (  # each contact once, as _enrol_contacts enrols them
        Contact.objects.filter(contact_list__campaigns=campaign)
        .order_by("id")
        .values_list("id", "phone", "timezone", "region", "consent")
        .distinct()
    )
    blocked = set(
        DoNotCall.objects.filter(
            phone__in=Contact.objects.filter(contact_list__campaigns=campaign).values("phone")
        ).values_list("phone", flat=True)
    )
    preview = StartPreview()
    opens: dict[tuple, datetime | None] = defaultdict(lambda: None)
    known: dict[tuple, bool] = {}
    for _, phone, zone_name, region_code, consent in contacts.iterator(chunk_size=5_000):
        preview.contacts += 1
        if phone in blocked:
            preview.do_not_call += 1
            continue
        if campaign.require_consent and not consent:
            preview.no_consent += 1
            continue
        try:
            zones = contact_zones(phone, zone_name)
        except NoTimeZone:
            preview.no_time_zone += 1
            continue
        key = (zones, callee_region(phone, region_code))
        if key not in known:
            window = calendar.window_for(base, key[1], skip_holidays=skip_holidays)
            known[key] = is_open(now, zones, window)
            opens[key] = None if known[key] else next_opening(now, zones, window)
        if known[key]:
            preview.callable_now += 1
        elif opens[key] is not None:
            preview.waiting += 1
            preview.openings[opens[key]] += 1
            if preview.next_opening is None or opens[key] < preview.next_opening:
                preview.next_opening = opens[key]
                preview.next_opening_local = opens[key].astimezone(zones[0])
        else:
            preview.never_open += 1
    return preview
