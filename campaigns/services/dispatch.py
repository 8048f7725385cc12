"""The dispatcher: claims due contacts within capacity and turns them into calls.

Safe with any number of dispatchers and workers at once (invariants 2 and 3):
- the campaign's row is locked first (one dispatcher per campaign at a time); the contacts are
  claimed, checked and their calls built; then one lock (telephony.services.capacity, also taken
  before any call is dialed) serialises the decision: the account's free places are counted
  under it and only that many calls are stored, before it is released at commit;
- capacity = min(campaign cap - its calls queued or live, account cap - all calls queued or
  live, per-minute budget left); queued calls count, so claimed work is never double-booked;
- due contacts are claimed with SELECT ... FOR UPDATE SKIP LOCKED, oldest due first;
- the dialing rules (services/dialing_rules: the campaign's status, destinations, do-not-call,
  the calls the number had lately, the window in the contact's local time) are asked for each
  claimed contact, retries included, and again by telephony right before the call is dialed;
- the calls are created in the same transaction, a chunk at a time (DISPATCH_CHUNK contacts,
  a few queries for the whole chunk); their placement is enqueued on commit, a batch per task
  (telephony.services.calls.calls_place).
"""

import logging
import time
from datetime import datetime, timedelta

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from campaigns.models import Campaign, CampaignAttempt, CampaignContact, Contact
from campaigns.services.campaigns import (
    campaign_complete_if_done,
    campaign_end_reached,
    campaign_record_finished_calls,
    contact_finish,
    contact_record_refusal,
)
from campaigns.services.dialing_rules import (
    CallLimits,
    RuleFacts,
    campaign_call_refusal,
    campaign_window,
)
from campaigns.states import WAITING_CONTACT_STATUSES
from contactcenter import metrics
from contactcenter.bulk import bulk_update_rows
from contactcenter.logs import log_context
from telephony.callee_regions import callee_region
from telephony.models import Call, CallEvent, PhoneNumber
from telephony.rules import CallRefused
from telephony.services.calls import BuiltCall, NewCall, calls_insert, calls_prepare
from telephony.services.capacity import booked_call_count, lock_capacity

logger = logging.getLogger(__name__)

# Claim a few more than the capacity: some claimed contacts turn out to be outside their window.
OVERFETCH = 4
# Contacts turned into calls per transaction, and chunks per campaign per tick.
DISPATCH_CHUNK = 100
MAX_CHUNKS_PER_TICK = 50


def dispatch(*, now: datetime | None = None) -> dict[int, int]:
    """One dispatcher tick over every campaign. Returns calls created per campaign."""
    started = time.monotonic()
    created = _dispatch_all(now=now or timezone.now())
    metrics.observe("dispatch_tick_seconds", [time.monotonic() - started])
    return created


def _dispatch_all(*, now: datetime) -> dict[int, int]:
    for campaign in Campaign.objects.filter(status=Campaign.Status.SCHEDULED, start_at__lte=now):
        _start_scheduled(campaign.pk)
    created = {}
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.RUNNING).values_list(
        "id", flat=True
    ):
        campaign = Campaign.objects.get(pk=campaign_id)
        campaign_record_finished_calls(campaign=campaign)
        created[campaign_id] = dispatch_campaign(
            campaign_id=campaign_id, now=now, skip_if_busy=True
        )
    return created


@transaction.atomic
def _start_scheduled(campaign_id: int) -> None:
    campaign = Campaign.objects.select_for_update().get(pk=campaign_id)
    if campaign.status == Campaign.Status.SCHEDULED:
        campaign.status = Campaign.Status.RUNNING
        campaign.save(update_fields=["status", "updated_at"])


def dispatch_campaign(
    *, campaign_id: int, now: datetime, place_here: bool = False, skip_if_busy: bool = False
) -> int:
    """Claim and call the campaign's due contacts, within capacity: DISPATCH_CHUNK at a time,
    each chunk its own transaction (so placement, which takes the same lock, is not held up
    behind a long one). `place_here`: this process places the first calls itself (a refill).
    `skip_if_busy` (a periodic tick): if another dispatcher is at this campaign right now, leave
    it to that one instead of waiting (a tick waiting in a worker holds a worker's place and
    adds nothing). Returns the calls created."""
    with log_context(campaign_id=campaign_id):
        return _dispatch_campaign(
            campaign_id, now=now, place_here=place_here, skip_if_busy=skip_if_busy
        )


def _dispatch_campaign(
    campaign_id: int, *, now: datetime, place_here: bool, skip_if_busy: bool
) -> int:
    created = 0
    for _ in range(MAX_CHUNKS_PER_TICK):
        chunk = _dispatch_chunk(
            campaign_id, now=now, place_here=place_here, skip_if_busy=skip_if_busy
        )
        if chunk is None:
            return created
        made, more = chunk
        created += made
        if not more:
            break
    if created == 0:
        campaign = Campaign.objects.get(pk=campaign_id)
        campaign_complete_if_done(campaign=campaign, now=now)
    return created


def _dispatch_chunk(
    campaign_id: int, *, now: datetime, place_here: bool, skip_if_busy: bool = False
) -> tuple[int, bool] | None:
    """One chunk: (calls created, whether more may be due and fit); None when `skip_if_busy`
    and another dispatcher holds the campaign.

    The campaign's row lock makes this the campaign's only dispatcher meanwhile, so its own
    limits (its cap, its per-minute budget) counted first can only loosen. The account's
    free places can shrink (other campaigns, single calls): they are counted again under the
    capacity lock, taken last, right before the calls are stored (`_claim_and_call`), so the
    claim, the rules and the building of the calls hold up no other dispatcher or placement."""
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(skip_locked=skip_if_busy, of=("self",))
            .select_related("agent_profile")  # its calls' agent: read with it, not locked
            .filter(pk=campaign_id)
            .first()
        )
        if campaign is None:
            if skip_if_busy and Campaign.objects.filter(pk=campaign_id).exists():
                return None
            raise Campaign.DoesNotExist(f"campaign {campaign_id} does not exist")
        if campaign.status != Campaign.Status.RUNNING:
            return 0, False
        if campaign.end_at and now >= campaign.end_at:
            campaign_end_reached(campaign=campaign)
            return 0, False
        capacity = min(_campaign_room(campaign, now=now), _account_room())
        created, more = (0, False)
        if capacity > 0:
            limit = min(capacity, DISPATCH_CHUNK)
            created, more = _claim_and_call(campaign, limit=limit, now=now, place_here=place_here)
        campaign.last_dispatch_at = now
        campaign.save(update_fields=["last_dispatch_at", "round_robin_position", "updated_at"])
    return created, more and capacity > created


def _campaign_room(campaign: Campaign, *, now: datetime) -> int:
    """Calls the campaign may start now by its own cap and per-minute budget (booked: queued
    calls count, so places claimed by an earlier chunk are not booked twice)."""
    campaign_busy = booked_call_count(Call.objects.filter(campaign_attempt__campaign=campaign))
    started_last_minute = CampaignAttempt.objects.filter(
        campaign=campaign, created_at__gt=now - timedelta(minutes=1)
    ).count()
    return min(
        campaign.max_concurrent_calls - campaign_busy,
        campaign.max_calls_per_minute - started_last_minute,
    )


def _account_room() -> int:
    """Places free under the account's cap (AGORA_MAX_CONCURRENT_CALLS), live or booked."""
    return settings.AGORA_MAX_CONCURRENT_CALLS - booked_call_count()


def _claim_and_call(
    campaign: Campaign, *, limit: int, now: datetime, place_here: bool = False
) -> tuple[int, bool]:
    """Claim up to `limit` due contacts and queue a call to each the rules allow, as one batch
    (telephony's calls_prepare and calls_insert: a few queries for the whole chunk), as many as
    the account has places for. Returns (calls created, whether the claim came back full, so
    more may be due)."""
    due = list(
        CampaignContact.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("contact")
        .filter(
            campaign=campaign,
            status__in=WAITING_CONTACT_STATUSES,
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at", "id")[: limit * OVERFETCH]
    )
    if not due:
        return 0, False
    window = campaign_window(campaign)
    # Read (and the numbers locked, for the call limits) in this transaction, before the
    # capacity lock: the calls booked below are counted by the next booker of these numbers.
    facts = RuleFacts.for_numbers(
        (entry.contact.phone for entry in due), now=now, limits=CallLimits.for_campaign(campaign)
    )
    numbers = list(campaign.caller_ids.filter(outbound=True).order_by("id"))
    chosen: list[CampaignContact] = []
    for entry in due:
        if len(chosen) >= limit:
            break
        refusal = campaign_call_refusal(
            campaign=campaign, contact=entry.contact, now=now, window=window, facts=facts
        )
        if refusal is not None:
            contact_record_refusal(entry, refusal)
        elif not numbers:
            logger.warning("campaign %s has no outbound caller ID left", campaign.pk)
            return 0, False
        else:
            chosen.append(entry)
    answers = calls_prepare(
        [_new_call(campaign, entry, numbers) for entry in chosen],
        source=CallEvent.Source.SYSTEM,
        now=now,
        rule_facts=facts,  # read above in this transaction: not read twice
    )
    ready: list[tuple[CampaignContact, BuiltCall]] = []
    for entry, answer in zip(chosen, answers, strict=True):
        if isinstance(answer, CallRefused):
            contact_record_refusal(entry, answer.refusal)
        elif isinstance(answer, ValidationError):
            entry.held_by = ""  # no dialing rule: its call cannot be made at all
            contact_finish(entry, status=CampaignContact.Status.INVALID,
                           note="; ".join(answer.messages))  # fmt: skip
        else:
            ready.append((entry, answer))
    # The decision: the account's free places, counted under the lock every decider takes. A
    # contact beyond them (taken meanwhile by another campaign or a single call) stays waiting.
    if ready:
        lock_capacity()
        ready = ready[: max(_account_room(), 0)]
    attempts, called = [], []
    for entry, built in ready:
        entry.attempts += 1
        attempts.append(
            CampaignAttempt(
                campaign_contact=entry,
                campaign=campaign,
                call=built.call,
                number=entry.attempts,
                created_at=now,
            )
        )
        entry.status = CampaignContact.Status.IN_PROGRESS
        entry.last_call = built.call
        entry.callback_at = None  # this is the callback: a new one is asked for in its call
        entry.note = ""
        entry.held_by = ""  # called: no rule holds it back now
        entry.updated_at = timezone.now()
        called.append(entry)
    calls_insert([built for _, built in ready], place_here=place_here)
    CampaignAttempt.objects.bulk_create(attempts)
    bulk_update_rows(
        called, ["status", "attempts", "last_call", "callback_at", "note", "held_by", "updated_at"]
    )
    return len(called), len(due) == limit * OVERFETCH or len(chosen) == limit


def _new_call(campaign: Campaign, entry: CampaignContact, numbers: list[PhoneNumber]) -> NewCall:
    contact = entry.contact
    return NewCall(
        to_number=contact.phone,
        caller_id=choose_caller_id(campaign, numbers, contact.phone),
        agent_profile=campaign.agent_profile,
        variables=contact_variables(contact),
        labels={"campaign_id": str(campaign.pk), "contact_id": str(contact.pk)},
        callee_timezone=contact.timezone,
        # as the rules read it (an explicit region stored before a rename falls back)
        callee_region=getattr(callee_region(contact.phone, contact.region), "code", ""),
        holidays_allowed=campaign.call_on_holidays,
        voicemail_policy=campaign.voicemail_policy,
        voicemail_message=campaign.voicemail_message,
        note=f"campaign {campaign.name}: attempt {entry.attempts + 1}",
    )


def contact_variables(contact: Contact) -> dict:
    """What the agent's {{templates}} can use: the contact's fields and its extra columns."""
    return {
        **contact.variables,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "phone": contact.phone,
        "external_id": contact.external_id,
    }


def _area(e164: str) -> tuple[int, str]:
    parsed = phonenumbers.parse(e164)
    national = phonenumbers.national_significant_number(parsed)
    return parsed.country_code, national[: phonenumbers.length_of_national_destination_code(parsed)]


def choose_caller_id(campaign: Campaign, numbers: list[PhoneNumber], callee: str) -> PhoneNumber:
    """Fixed: the first number. Round robin: the next one. Local presence: a number with the
    callee's country and area code, else its country, else the next one in rotation."""
    strategy = campaign.caller_id_strategy
    if strategy == Campaign.CallerIdStrategy.FIXED or len(numbers) == 1:
        return numbers[0]
    if strategy == Campaign.CallerIdStrategy.LOCAL_PRESENCE:
        country, area = _area(callee)
        areas = {number.pk: _area(number.e164) for number in numbers}
        for wanted in ((country, area), (country, None)):
            for number in numbers:
                number_country, number_area = areas[number.pk]
                if number_country == wanted[0] and wanted[1] in (None, number_area):
                    return number
    chosen = numbers[campaign.round_robin_position % len(numbers)]
    campaign.round_robin_position += 1
    return chosen
