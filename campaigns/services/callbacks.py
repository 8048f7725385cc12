"""Callbacks: a campaign contact called again at the time they asked for.

One service for every way in: the agent's `schedule_callback` tool during a call, staff in the
admin, CRMs through the API. The requested instant is kept when the contact's calling window
(the campaign's window inside the 08:00-21:00 guard, in every zone of the contact) is open then,
and moved to the window's next opening otherwise. A callback does not use up an attempt (the
contact's `callbacks` are added to `max_attempts`); a campaign allows at most `max_callbacks`.

Asked for during the contact's own call, the callback waits in `callback_at` until that call
ends (`campaign_record_call_outcome` then schedules it), so the contact is never called twice
at once.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dateparser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from campaigns.models import CampaignContact
from campaigns.services.calling_calendar import CallingCalendar
from campaigns.services.dialing_rules import contact_window
from campaigns.services.dnc import dnc_contains
from campaigns.states import CLOSED_CONTACT_STATUSES, FINAL_STATUSES
from campaigns.windows import NoTimeZone, contact_zones, next_opening

C = CampaignContact.Status
# Far enough for "call me next month", near enough that a misheard year is refused.
MAX_CALLBACK_AHEAD = timedelta(days=90)
NOTE_LENGTH = 300


@dataclass(frozen=True)
class CallbackScheduled:
    entry: CampaignContact
    requested: datetime
    at: datetime
    zone: ZoneInfo

    @property
    def moved(self) -> bool:
        return self.at != self.requested

    def describe(self) -> str:
        local = self.at.astimezone(self.zone)
        said = f"Callback scheduled for {local:%A %d %B %Y at %H:%M} ({self.zone.key} time)"
        if self.moved:
            asked = self.requested.astimezone(self.zone)
            said += (
                f"; {asked:%A %H:%M} is outside the calling hours, so it is the next time "
                "calls are allowed"
            )
        return said + "."


def parse_when(when: str | datetime, *, zone: ZoneInfo, now: datetime) -> datetime:
    """An instant from ISO 8601 or words ("tomorrow at 3 pm", "in two hours"), read in the
    callee's zone when it names no offset of its own."""
    if isinstance(when, datetime):
        return when if when.tzinfo else when.replace(tzinfo=zone)
    text = (when or "").strip()
    if not text:
        raise ValidationError({"when": "Say when to call back, e.g. 'tomorrow at 3 pm'."})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = dateparser.parse(
            text,
            settings={
                "TIMEZONE": zone.key,
                "RETURN_AS_TIMEZONE_AWARE": True,
                "PREFER_DATES_FROM": "future",
                "RELATIVE_BASE": now.astimezone(zone).replace(tzinfo=None),
            },
        )
        if parsed is None:
            raise ValidationError(
                {"when": f"'{text[:80]}' is not a time I can read; say e.g. 'tomorrow at 3 pm' "
                 "or give ISO 8601 such as 2026-12-03T15:00."}
            ) from None  # fmt: skip
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def contact_zone(entry: CampaignContact) -> tuple[ZoneInfo, tuple[ZoneInfo, ...]]:
    """The zone a callee's words are read in, and every zone the window must be open in."""
    try:
        zones = contact_zones(entry.contact.phone, entry.contact.timezone)
    except NoTimeZone as error:
        raise ValidationError({"when": f"{error}: the callback time cannot be placed."}) from None
    return zones[0], zones


def callback_schedule(
    *,
    entry_id: int,
    when: str | datetime,
    note: str = "",
    now: datetime | None = None,
) -> CallbackScheduled:
    """Schedule (or move) the contact's callback. Raises ValidationError saying why not."""
    now = now or timezone.now()
    with transaction.atomic():
        entry = (
            CampaignContact.objects.select_for_update(of=("self",))
            .select_related("campaign", "contact")
            .get(pk=entry_id)
        )
        campaign = entry.campaign
        if campaign.status in FINAL_STATUSES:
            raise ValidationError(f"The campaign is {campaign.get_status_display().lower()}.")
        if entry.status in CLOSED_CONTACT_STATUSES:
            raise ValidationError(
                f"The contact is {entry.get_status_display().lower()} in this campaign: "
                "no callback can be scheduled."
            )
        if dnc_contains(entry.contact.phone):
            raise ValidationError(f"{entry.contact.phone} is on the do-not-call list.")
        zone, zones = contact_zone(entry)
        requested = parse_when(when, zone=zone, now=now).astimezone(UTC)
        if requested < now - timedelta(minutes=1):
            asked = requested.astimezone(zone)
            raise ValidationError({"when": f"{asked:%Y-%m-%d %H:%M} ({zone.key}) is in the past."})
        if requested > now + MAX_CALLBACK_AHEAD:
            raise ValidationError(
                {"when": f"A callback is at most {MAX_CALLBACK_AHEAD.days} days ahead."}
            )
        calendar = CallingCalendar.load(now=max(requested, now))  # its holidays and blackouts
        window = contact_window(campaign, entry.contact, calendar=calendar)
        at = next_opening(max(requested, now), zones, window)
        if at is None:
            raise ValidationError(
                "The campaign's calling window never opens for this contact (its region's "
                "calling hours, holidays and blackout dates included)."
            )
        if campaign.end_at and at >= campaign.end_at:
            raise ValidationError(
                f"The first time allowed for it, {at:%Y-%m-%d %H:%M} UTC, is after the "
                f"campaign's end ({campaign.end_at:%Y-%m-%d %H:%M} UTC)."
            )
        is_new = entry.callback_at is None and entry.status != C.CALLBACK_SCHEDULED
        if is_new and entry.callbacks >= campaign.max_callbacks:
            raise ValidationError(
                f"This contact already had {entry.callbacks} callback"
                f"{'s' if entry.callbacks != 1 else ''}, the campaign's maximum."
            )
        entry.callbacks += int(is_new)
        entry.callback_at = at
        if entry.status != C.IN_PROGRESS:  # else the end of the live call schedules it
            entry.status = C.CALLBACK_SCHEDULED
            entry.next_attempt_at = at
        entry.note = (f"callback asked: {note.strip()}" if note.strip() else "callback")[
            :NOTE_LENGTH
        ]
        entry.save()
    return CallbackScheduled(entry=entry, requested=requested, at=at, zone=zone)


def callback_cancel(*, entry_id: int, now: datetime | None = None) -> CampaignContact:
    """Cancel the contact's callback: it goes back to its retries (or is exhausted)."""
    now = now or timezone.now()
    with transaction.atomic():
        entry = (
            CampaignContact.objects.select_for_update(of=("self",))
            .select_related("campaign")
            .get(pk=entry_id)
        )
        if entry.callback_at is None and entry.status != C.CALLBACK_SCHEDULED:
            raise ValidationError("This contact has no callback scheduled.")
        entry.callbacks = max(0, entry.callbacks - 1)
        entry.callback_at = None
        if entry.status == C.CALLBACK_SCHEDULED:
            if entry.attempts - entry.callbacks >= entry.campaign.max_attempts:
                entry.status = C.EXHAUSTED
            else:
                entry.status = C.RETRY_SCHEDULED if entry.attempts else C.PENDING
                entry.next_attempt_at = now
        entry.note = "callback cancelled"
        entry.save()
    return entry
