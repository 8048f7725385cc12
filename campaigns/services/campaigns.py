"""Campaigns: status changes (start, pause, resume, cancel, complete; along the table in
`campaigns.states`), what a campaign needs before it may start, what happens to a contact when
its call ends, and progress figures."""

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Max, Min, Q
from django.utils import timezone

from campaigns.models import Campaign, CampaignAttempt, CampaignContact, Contact
from campaigns.services.dialing_rules import campaign_call_refusal
from campaigns.services.dnc import BLOCKED_NOTE, dnc_contains
from campaigns.services.waiting import FREQUENCY_NOTE, WINDOW_NOTE, campaigns_waiting
from campaigns.signals import campaign_completed, campaign_paused
from campaigns.states import (
    ACTIVE_CAMPAIGN_STATUSES,
    FINAL_STATUSES,
    OPEN_CONTACT_STATUSES,
    WAITING_CONTACT_STATUSES,
    can_transition,
)
from campaigns.windows import CallingWindow, calling_hours_guard
from contactcenter.batches import after_batch
from telephony.models import Call, CallEvent, PhoneNumber, VoicemailPolicy
from telephony.outcomes import success_outcomes_error
from telephony.rules import TIME_RULES, Refusal, Rule
from telephony.services.agents import agent_required_variables
from telephony.services.calls import LARGE_CALL_FIELDS
from telephony.states import LIVE_STATUSES, CallStatus

logger = logging.getLogger(__name__)

S = Campaign.Status
CONTACT_FIELDS = frozenset({"first_name", "last_name", "phone", "external_id"})
MATERIALIZE_BATCH = 5_000


def _transition(campaign: Campaign, target: str) -> None:
    if not can_transition(campaign.status, target):
        raise ValidationError(
            f"A {campaign.get_status_display().lower()} campaign cannot become "
            f"{Campaign.Status(target).label.lower()}."
        )
    campaign.status = target
    if target in FINAL_STATUSES:
        campaign.finished_at = timezone.now()
    campaign.save()
    if target == S.COMPLETED:  # CRM webhooks (contactcenter.crm_webhooks.receivers), after commit
        campaign_id = campaign.pk
        transaction.on_commit(
            lambda: campaign_completed.send(sender=Campaign, campaign_id=campaign_id)
        )


def _locked(campaign: Campaign | int) -> Campaign:
    campaign_id = campaign.pk if isinstance(campaign, Campaign) else campaign
    return Campaign.objects.select_for_update().get(pk=campaign_id)


# -- settings ---------------------------------------------------------------------------------


def campaign_settings_errors(
    *,
    window_start=None,
    window_end=None,
    start_at=None,
    end_at=None,
    caller_ids=(),
    voicemail_policy=None,
    voicemail_message="",
    outcomes=None,
    success_outcomes=None,
) -> dict[str, str]:
    """Rules between a campaign's fields, by field; the admin form and the API both ask here."""
    errors: dict[str, str] = {}
    if window_start is not None and window_end is not None and window_start >= window_end:
        errors["window_end"] = "The daily window must end after it starts."
    if start_at and end_at and start_at >= end_at:
        errors["end_at"] = "The end must be after the start."
    refused = [number.e164 for number in caller_ids if not number.outbound]
    if refused:
        errors["caller_ids"] = f"Not enabled for outbound calls: {', '.join(refused)}."
    if voicemail_policy == VoicemailPolicy.LEAVE_MESSAGE and not (voicemail_message or "").strip():
        errors["voicemail_message"] = "Write the message to leave, or choose another policy."
    if problem := success_outcomes_error(outcomes, success_outcomes):
        errors["success_outcomes"] = problem
    return errors


# -- editing and deleting ---------------------------------------------------------------------

LOCKED_MESSAGE = (
    "This campaign is {status}: it keeps the settings it was started with, so only its name "
    "and its analysis plan can change. To call with other settings, pause it first, or create "
    "a new campaign."
)
PAUSED_MESSAGE = (
    "This campaign is paused: its schedule, window, pacing, retries and caller IDs can change, "
    "but not its contact lists or its agent (its contacts are enrolled and part-called)."
)
MANY_TO_MANY_SETTINGS = ("caller_ids", "contact_lists")
# What a paused campaign may change: not what its enrolled contacts and past calls came from.
PAUSED_LOCKED_SETTINGS = frozenset({"contact_lists", "agent_profile", "start_at"})
WINDOW_SETTINGS = frozenset({"weekdays", "window_start", "window_end", "call_on_holidays"})
LIMIT_SETTINGS = frozenset({"calls_per_number_24h", "calls_per_number_7d"})


def campaign_editable_settings(campaign: Campaign) -> frozenset[str]:
    """The settings that may change now: all of a draft's, a paused campaign's schedule,
    window, pacing, retries and caller IDs, and otherwise only the name and the analysis plan
    (what is read from ended calls: it decides nothing about who is called or when)."""
    if campaign.status == S.DRAFT:
        return frozenset(Campaign.SETTINGS_FIELDS)
    if campaign.status == S.PAUSED:
        return frozenset(Campaign.SETTINGS_FIELDS) - PAUSED_LOCKED_SETTINGS
    return frozenset({"name"}) | Campaign.ANALYSIS_SETTINGS


@transaction.atomic
def campaign_update(*, campaign: Campaign, changes: Mapping[str, Any]) -> Campaign:
    """Change the settings given (names from Campaign.SETTINGS_FIELDS), and only those: the
    dispatcher writes the status and pacing fields concurrently. What may change depends on the
    status (campaign_editable_settings); a value sent unchanged is not a change."""
    unknown = set(changes) - set(Campaign.SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"Not campaign settings: {', '.join(sorted(unknown))}")
    locked = _locked(campaign)
    changes = {name: item for name, item in changes.items() if _differs(locked, name, item)}
    refused = sorted(set(changes) - campaign_editable_settings(locked))
    if refused:
        message = (
            PAUSED_MESSAGE
            if locked.status == S.PAUSED
            else LOCKED_MESSAGE.format(status=locked.get_status_display().lower())
        )
        raise ValidationError(f"{message} (sent: {', '.join(refused)})")
    if locked.status != S.DRAFT and "caller_ids" in changes and not changes["caller_ids"]:
        raise ValidationError({"caller_ids": "A started campaign needs at least one caller ID."})

    def value(name: str) -> Any:
        return changes.get(name, getattr(locked, name))

    errors = campaign_settings_errors(
        window_start=value("window_start"),
        window_end=value("window_end"),
        start_at=value("start_at"),
        end_at=value("end_at"),
        caller_ids=changes.get("caller_ids", ()),
        voicemail_policy=value("voicemail_policy"),
        voicemail_message=value("voicemail_message"),
        outcomes=value("outcomes"),
        success_outcomes=value("success_outcomes"),
    )
    if errors:
        raise ValidationError(errors)
    fields = {name: item for name, item in changes.items() if name not in MANY_TO_MANY_SETTINGS}
    for name, item in fields.items():
        setattr(locked, name, item)
    locked.save(update_fields=[*fields, "updated_at"])
    for name in MANY_TO_MANY_SETTINGS:
        if name in changes:
            getattr(locked, name).set(changes[name])
    if locked.status == S.PAUSED:
        _reconsider_waiting_contacts(locked, changed=set(changes))
    return locked


@transaction.atomic
def campaign_duplicate(*, campaign: Campaign) -> Campaign:
    """A new draft with every setting of `campaign` (its lists and caller IDs too): to call
    again, other lists or with other settings, without starting over."""
    copy = Campaign(
        **{
            name: getattr(campaign, name)
            for name in Campaign.SETTINGS_FIELDS
            if name not in MANY_TO_MANY_SETTINGS
        }
    )
    copy.name = f"Copy of {campaign.name}"[: Campaign._meta.get_field("name").max_length]
    copy.save()
    for name in MANY_TO_MANY_SETTINGS:
        getattr(copy, name).set(getattr(campaign, name).all())
    return copy


def _differs(campaign: Campaign, name: str, value: Any) -> bool:
    if name in MANY_TO_MANY_SETTINGS:
        return {item.pk for item in value} != set(
            getattr(campaign, name).values_list("pk", flat=True)
        )
    current = getattr(campaign, name)
    if name == "weekdays":
        return sorted(current or []) != sorted(value or [])
    if name == "agent_profile":
        return getattr(value, "pk", value) != campaign.agent_profile_id
    return current != value


def contacts_reconsider_windows(*, reason: str) -> int:
    """The calling calendar changed (a regional rule or a blackout date added, edited or
    removed): every waiting contact deferred to a window's opening, in any started campaign,
    is looked at again at its campaign's next dispatch. One UPDATE."""
    now = timezone.now()
    return CampaignContact.objects.filter(
        status__in=WAITING_CONTACT_STATUSES,
        note__startswith=WINDOW_NOTE,
        next_attempt_at__gt=now,
        campaign__status__in=ACTIVE_CAMPAIGN_STATUSES,
    ).update(next_attempt_at=now, note=reason, updated_at=now)


def _reconsider_waiting_contacts(campaign: Campaign, *, changed: set[str]) -> None:
    """After a paused campaign's settings changed, its waiting contacts follow them: those
    deferred to the old window's opening are looked at again at the next dispatch (which
    defers them anew if need be), and those with no attempt left are exhausted."""
    waiting = CampaignContact.objects.filter(campaign=campaign, status__in=WAITING_CONTACT_STATUSES)
    if changed & WINDOW_SETTINGS:
        waiting.filter(note__startswith=WINDOW_NOTE).update(
            next_attempt_at=timezone.now(), note="calling window changed", updated_at=timezone.now()
        )
    if "require_consent" in changed and not campaign.require_consent:
        CampaignContact.objects.filter(
            campaign=campaign, status=CampaignContact.Status.NO_CONSENT
        ).update(
            status=CampaignContact.Status.PENDING, next_attempt_at=timezone.now(), held_by="",
            note="consent no longer required", updated_at=timezone.now(),
        )  # fmt: skip
    if changed & LIMIT_SETTINGS:
        waiting.filter(note__startswith=FREQUENCY_NOTE).update(
            next_attempt_at=timezone.now(), note="call limits changed", updated_at=timezone.now()
        )
    if "max_attempts" in changed:
        waiting.exclude(status=CampaignContact.Status.CALLBACK_SCHEDULED).filter(
            attempts__gte=F("callbacks") + campaign.max_attempts
        ).update(
            status=CampaignContact.Status.EXHAUSTED,
            note=f"no attempt left: the maximum became {campaign.max_attempts}",
            updated_at=timezone.now(),
        )


def campaign_delete_refusals(campaign: Campaign) -> list[str]:
    """Why the campaign cannot be deleted (empty: it can). Only a draft (never started: nothing
    enrolled, no calls) can: a started one keeps its contacts and calls."""
    if campaign.status == S.DRAFT:
        return []
    return [
        f"Only draft campaigns can be deleted; this one is "
        f"{campaign.get_status_display().lower()} (cancel it instead: its contacts and "
        "calls stay accounted for)."
    ]


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a draft campaign; a started one is refused (campaign_delete_refusals)."""
    locked = Campaign.objects.select_for_update().filter(pk=campaign.pk).first()
    if locked is None:
        return  # already deleted
    reasons = campaign_delete_refusals(locked)
    if reasons:
        raise ValidationError(reasons)
    locked.delete()


# -- starting ---------------------------------------------------------------------------------


def campaign_start_problems(campaign: Campaign, *, now: datetime | None = None) -> list[str]:
    """Everything that stops `campaign` from starting, each said specifically."""
    now = now or timezone.now()
    problems: list[str] = []
    contacts = Contact.objects.filter(contact_list__campaigns=campaign)
    if not contacts.exists():
        problems.append("It has no contacts: add a contact list that has contacts.")
    numbers = list(campaign.caller_ids.all())
    if not numbers:
        problems.append("Choose at least one caller ID number.")
    for number in numbers:
        if not number.outbound:
            problems.append(f"Caller ID {number.e164} is not enabled for outbound calls.")
        elif number.sync_state != PhoneNumber.SyncState.SYNCED:
            problems.append(
                f"Caller ID {number.e164} is not synced with Agora "
                f"({number.get_sync_state_display().lower()})."
            )
    profile = campaign.agent_profile
    try:
        profile.full_clean()
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            problems.extend(f"Agent profile {profile.name}, {field}: {m}" for m in messages)
    window = CallingWindow.for_campaign(
        start=campaign.window_start, end=campaign.window_end, weekdays=campaign.weekdays
    )
    guard_start, guard_end = calling_hours_guard()
    if not campaign.weekdays:
        problems.append("Choose at least one weekday for calls.")
    elif campaign.window_start >= campaign.window_end:
        problems.append("The daily window must start before it ends.")
    elif window.is_empty:
        problems.append(
            f"The window {campaign.window_start:%H:%M}-{campaign.window_end:%H:%M} lies outside "
            f"the allowed calling hours {guard_start:%H:%M}-{guard_end:%H:%M}."
        )
    if campaign.end_at and campaign.end_at <= now:
        problems.append("The end time has already passed.")
    if campaign.start_at and campaign.end_at and campaign.start_at >= campaign.end_at:
        problems.append("The start time must be before the end time.")
    for name in sorted(agent_required_variables(profile)):
        if name in CONTACT_FIELDS:
            missing = contacts.filter(**{name: ""}).count()
        else:
            missing = contacts.exclude(variables__has_key=name).count()
        if missing:
            problems.append(
                f"{missing} contact(s) have no {name!r}, which the agent's templates use "
                f"({{{{{name}}}}})."
            )
    return problems


def campaign_start(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Check, then schedule or start the campaign and enrol its contacts."""
    now = now or timezone.now()
    problems = campaign_start_problems(campaign, now=now)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        locked = _locked(campaign)
        begins = locked.start_at or now
        _transition(locked, S.SCHEDULED if begins > now else S.RUNNING)
        locked.started_at = now
        locked.save()
        _enrol_contacts(locked, first_attempt_at=begins)
    return locked


def _enrol_contacts(campaign: Campaign, *, first_attempt_at: datetime) -> int:
    contact_ids = (
        Contact.objects.filter(contact_list__campaigns=campaign)
        .values_list("id", flat=True)
        .distinct()
        .order_by("id")
    )
    enrolled, batch = 0, []
    for contact_id in contact_ids.iterator(chunk_size=MATERIALIZE_BATCH):
        batch.append(
            CampaignContact(
                campaign=campaign, contact_id=contact_id, next_attempt_at=first_attempt_at
            )
        )
        if len(batch) >= MATERIALIZE_BATCH:
            enrolled += len(CampaignContact.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    if batch:
        enrolled += len(CampaignContact.objects.bulk_create(batch, ignore_conflicts=True))
    return enrolled


# -- pausing, resuming, cancelling, completing ------------------------------------------------


@transaction.atomic
def campaign_pause(*, campaign: Campaign, reason: str = "") -> Campaign:
    """No new calls from now on; calls already live finish normally. `reason`: why it paused
    itself (the circuit breaker); staff pause it without one. CRMs hear `campaign.paused`."""
    locked = _locked(campaign)
    _transition(locked, S.PAUSED)
    if locked.paused_reason != reason:
        locked.paused_reason = reason[:300]
        locked.save(update_fields=["paused_reason", "updated_at"])
    campaign_id = locked.pk
    transaction.on_commit(
        lambda: campaign_paused.send(
            sender=Campaign, campaign_id=campaign_id, reason=reason, automatic=bool(reason)
        )
    )
    return locked


@transaction.atomic
def campaign_resume(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    now = now or timezone.now()
    locked = _locked(campaign)
    _transition(locked, S.SCHEDULED if locked.start_at and locked.start_at > now else S.RUNNING)
    # The failures that paused it are behind it: the breaker counts afresh.
    locked.paused_reason, locked.failures_counted_from = "", now
    locked.save(update_fields=["paused_reason", "failures_counted_from", "updated_at"])
    return locked


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, hang_up: bool = False) -> Campaign:
    """Stop for good; contacts not yet called are cancelled; live calls are hung up if asked."""
    locked = _locked(campaign)
    _transition(locked, S.CANCELLED)
    CampaignContact.objects.filter(campaign=locked, status__in=WAITING_CONTACT_STATUSES).update(
        status=CampaignContact.Status.CANCELLED, note="campaign cancelled"
    )
    if hang_up:
        from campaigns.tasks import hang_up_campaign_calls

        hang_up_campaign_calls.delay_on_commit(locked.pk)
    return locked


def campaign_hang_up_live_calls(*, campaign_id: int) -> int:
    from telephony.services.calls import call_hangup

    call_ids = list(
        Call.objects.filter(
            campaign_attempt__campaign_id=campaign_id,
            status__in=[*LIVE_STATUSES, CallStatus.QUEUED],
        ).values_list("id", flat=True)
    )
    for call_id in call_ids:
        call_hangup(call_id=call_id, source=CallEvent.Source.STAFF)
    return len(call_ids)


def campaign_complete_if_done(*, campaign: Campaign, now: datetime | None = None) -> bool:
    """A running campaign with nothing left to call and nothing live completes by itself."""
    if campaign.contacts.filter(status__in=OPEN_CONTACT_STATUSES).exists():
        return False  # the common answer, without taking the campaign's lock
    with transaction.atomic():
        locked = _locked(campaign)
        if locked.status != S.RUNNING:
            return False
        if locked.contacts.filter(status__in=OPEN_CONTACT_STATUSES).exists():
            return False
        _transition(locked, S.COMPLETED)
    logger.info("campaign %s completed", locked.pk)
    return True


def campaign_end_reached(*, campaign: Campaign) -> None:
    """Past end_at: nothing new is called; contacts still waiting are cancelled."""
    with transaction.atomic():
        locked = _locked(campaign)
        locked.contacts.filter(status__in=WAITING_CONTACT_STATUSES).update(
            status=CampaignContact.Status.CANCELLED, note="the campaign's end time passed"
        )
        if not locked.contacts.filter(status=CampaignContact.Status.IN_PROGRESS).exists():
            _transition(locked, S.COMPLETED)


# -- a call ended: what happens to its contact ------------------------------------------------


def retry_delay(campaign: Campaign, outcome: str) -> int:
    return {
        CallStatus.NO_ANSWER: campaign.retry_delay_no_answer,
        CallStatus.BUSY: campaign.retry_delay_busy,
        CallStatus.VOICEMAIL: campaign.retry_delay_voicemail,
    }.get(outcome, campaign.retry_delay_failed)


def campaign_call_ended(*, call_id: str, status: str, labels: Mapping[str, str]) -> None:
    """A call ended (told in the worker that saw it end, after commit): its contact moves on,
    and its place is refilled here and now (each broker trip between a hang-up and the next
    call is time the place stays empty). Should recording fail, a task tries again (and the
    dispatcher's sweep of finished calls is there should that be lost too).

    Within a batch (a webhook drain's), a campaign call that did not fail has its place
    refilled first, with the places of the batch's other hang-ups, and its outcome recorded
    after that: the next contact's call waits for no contact's bookkeeping. Its contact stays
    "in progress" meanwhile, so the refill cannot take it. A failed call's outcome goes first,
    as outside a batch: it may pause a failing campaign, which must then place no more."""
    campaign_id = str(labels.get("campaign_id") or "")
    if status != CallStatus.FAILED and campaign_id.isdigit():
        now = timezone.now()
        if after_batch(f"dispatch:{campaign_id}", _refill(int(campaign_id), now=now)):
            after_batch(
                f"outcome:{call_id}",
                lambda: _record_outcome_or_queue(call_id, refill=False),
                late=True,
            )
            return
    _record_outcome_or_queue(call_id)


def _record_outcome_or_queue(call_id: str, *, refill: bool = True) -> None:
    from campaigns.tasks import record_call_outcome

    try:
        campaign_record_call_outcome(call_id=call_id, refill=refill)
    except Exception:
        logger.exception("call %s: outcome not recorded at once; a task will", call_id)
        record_call_outcome.delay(call_id)


def campaign_record_call_outcome(
    *, call_id, now: datetime | None = None, refill: bool = True
) -> str | None:
    """Move the call's contact on: completed, retry later, exhausted or cancelled. Idempotent.

    With `refill`, the campaign is dispatched again at once (after commit): the call's place
    is free, and waiting for the dispatcher's next tick would leave it empty for up to a tick.
    """
    now = now or timezone.now()
    attempt = (
        CampaignAttempt.objects.select_related("campaign", "call")
        .defer(*(f"call__{name}" for name in LARGE_CALL_FIELDS))
        .filter(call_id=call_id)
        .first()
    )
    if attempt is None or not attempt.call.is_terminal:
        return None
    with transaction.atomic():
        entry = (
            CampaignContact.objects.select_for_update(of=("self",))
            .select_related("contact")
            .get(pk=attempt.campaign_contact_id)
        )
        # attempt.call_id, not call_id: tasks pass the id as a string, the row holds a UUID.
        if (
            entry.status != CampaignContact.Status.IN_PROGRESS
            or entry.last_call_id != attempt.call_id
        ):
            return entry.status  # already recorded (the signal and the sweep both come here)
        campaign, outcome = attempt.campaign, attempt.call.status
        if attempt.call.refused_by_rule:
            _record_not_dialed(entry, attempt, now=now)
        elif dnc_contains(entry.contact.phone):
            # Put on the list during this call (the callee asked, or staff): never again.
            entry.status = CampaignContact.Status.DO_NOT_CALL
            entry.note = BLOCKED_NOTE
            entry.held_by = Rule.DO_NOT_CALL
        elif entry.callback_at and campaign.status != S.CANCELLED:
            # Asked for during this call (schedule_callback): it is kept whatever the ending.
            entry.status = CampaignContact.Status.CALLBACK_SCHEDULED
            entry.next_attempt_at = entry.callback_at
        elif outcome == CallStatus.COMPLETED:
            entry.status = CampaignContact.Status.COMPLETED
        elif campaign.status == S.CANCELLED:
            entry.status = CampaignContact.Status.CANCELLED
        elif entry.attempts - entry.callbacks >= campaign.max_attempts:
            entry.status = CampaignContact.Status.EXHAUSTED
        else:
            entry.status = CampaignContact.Status.RETRY_SCHEDULED
            entry.next_attempt_at = now + timedelta(seconds=retry_delay(campaign, outcome))
        if not attempt.call.refused_by_rule:
            entry.last_outcome = outcome
        entry.save()
    if campaign.status == S.RUNNING:
        if outcome == CallStatus.FAILED and campaign_pause_if_failing(campaign_id=campaign.pk):
            return entry.status
        campaign_complete_if_done(campaign=campaign, now=now)
        if refill:
            _dispatch_soon(campaign.pk, now=now)
    return entry.status


FAILURE_LOOKBACK = timedelta(hours=1)
MAX_FAILURES_READ = 200  # for the most frequent reason
# A run of failures counts once it has lasted this long: at a campaign's start the calls that
# fail at once outnumber the first answers, which take ringing and talking to arrive.
FAILURE_RUN_MIN = timedelta(seconds=60)


def campaign_failures(campaign: Campaign, *, now: datetime | None = None) -> tuple[int, str]:
    """(how many of the campaign's calls failed since the last one a person or machine answered,
    the failures' most frequent reason), within the last hour and since it was last resumed;
    (0, "") until the run has lasted FAILURE_RUN_MIN.

    A run of failures with no answer in between, rather than a share of the last calls: with
    webhooks off a busy line or a short ring ends `failed` too (`ended_status` cannot tell),
    so a bad list can end mostly `failed` while its answers keep coming; a broken trunk, agent
    or account answers nothing."""
    now = now or timezone.now()
    since = now - FAILURE_LOOKBACK
    if campaign.failures_counted_from and campaign.failures_counted_from > since:
        since = campaign.failures_counted_from
    calls = Call.objects.filter(campaign_attempt__campaign=campaign, created_at__gte=since)
    answered = calls.filter(answered_at__isnull=False).aggregate(last=Max("answered_at"))["last"]
    failed = calls.filter(
        status=CallStatus.FAILED,
        refused_by_rule="",  # not dialed by a rule's choice: not a failure of the line
        ended_at__gt=max(since, answered) if answered else since,
    )
    run = failed.aggregate(count=Count("id"), first=Min("ended_at"))
    if run["first"] is None or now - run["first"] < FAILURE_RUN_MIN:
        return 0, ""  # not a run yet: a new campaign's first answers take a few seconds
    reasons = Counter(
        reason or "no reason given"
        for reason in failed.values_list("end_reason", flat=True)[:MAX_FAILURES_READ]
    )
    common = reasons.most_common(1)[0][0] if reasons else ""
    return run["count"], common


def campaign_pause_if_failing(*, campaign_id: int) -> bool:
    """The circuit breaker: a running campaign whose last calls mostly failed pauses itself
    with the reason, instead of burning through its list. True when it paused."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.status != S.RUNNING or not campaign.pause_after_failures:
        return False
    failed, reason = campaign_failures(campaign)
    if failed < campaign.pause_after_failures:
        return False
    with transaction.atomic():
        if _locked(campaign_id).status != S.RUNNING:
            return False  # paused, cancelled or completed meanwhile
        campaign_pause(
            campaign=campaign,
            reason=f"Paused by itself: {failed} calls failed in a row, none answered "
            f"(most often: {reason}). Check the agent, the caller IDs and Agora, then resume.",
        )
    logger.warning("campaign %s paused itself: %d calls failed in a row", campaign_id, failed)
    return True


def _record_not_dialed(entry: CampaignContact, attempt: CampaignAttempt, *, now: datetime) -> None:
    """The dialing rules stopped the call right before it was dialed: the attempt is given back,
    and the contact waits for its next opening, or is finished as the rules say."""
    entry.attempts = max(0, entry.attempts - 1)
    entry.status = (
        CampaignContact.Status.RETRY_SCHEDULED if entry.attempts else CampaignContact.Status.PENDING
    )
    entry.next_attempt_at = now
    entry.note = f"not dialed: {attempt.call.end_reason.removeprefix('not dialed: ')}"[:300]
    if attempt.call.refused_by_rule != Rule.CAMPAIGN_STATUS:  # not a hold: it stopped
        entry.held_by = attempt.call.refused_by_rule
    if attempt.campaign.status == S.CANCELLED:
        entry.status = CampaignContact.Status.CANCELLED
        return
    refusal = campaign_call_refusal(campaign=attempt.campaign, contact=entry.contact, now=now)
    if refusal is not None:
        contact_record_refusal(entry, refusal)


def contact_record_refusal(entry: CampaignContact, refusal: Refusal) -> None:
    """A contact the dialing rules refuse now, not called: finished for good (do-not-call, an
    invalid destination), or deferred to the next opening of its window or to when its number's
    call limits allow (never skipped; the end time may cancel it later). No attempt is used.
    The rule is kept on the contact (`held_by`, until it is called) for the audit."""
    if refusal.rule != Rule.CAMPAIGN_STATUS:
        entry.held_by = refusal.rule.value
    if refusal.rule == Rule.DO_NOT_CALL:
        contact_finish(
            entry, status=CampaignContact.Status.DO_NOT_CALL, note="on the do-not-call list"
        )
    elif refusal.rule == Rule.CONSENT:
        contact_finish(
            entry,
            status=CampaignContact.Status.NO_CONSENT,
            note="no prior express consent on record (the campaign requires it)",
        )
    elif refusal.rule in TIME_RULES and refusal.opens_at:
        when = "no opening within a year; looked at again" if refusal.look_again else (
            "next opening"
        )  # fmt: skip
        contact_defer(
            entry,
            until=refusal.opens_at,
            note=f"{WINDOW_NOTE}; {when} {refusal.opens_at:%Y-%m-%d %H:%M} UTC",
        )
    elif refusal.rule == Rule.CALL_FREQUENCY and refusal.opens_at:
        contact_defer(
            entry,
            until=refusal.opens_at,
            note=f"{FREQUENCY_NOTE}; next allowed at {refusal.opens_at:%Y-%m-%d %H:%M} UTC",
        )
    elif refusal.rule == Rule.CAMPAIGN_STATUS:
        pass  # the campaign stopped meanwhile: the contact waits where it is
    else:
        contact_finish(entry, status=CampaignContact.Status.INVALID, note=refusal.message)


def contact_finish(entry: CampaignContact, *, status: str, note: str) -> None:
    """The contact is done in this campaign without (another) call: `status` says why."""
    entry.status = status
    entry.note = note[:300]
    entry.save(update_fields=["status", "note", "held_by", "updated_at"])


def contact_defer(entry: CampaignContact, *, until: datetime, note: str) -> None:
    """The contact waits until `until`, its attempts untouched (a callback stays a callback)."""
    if entry.status != CampaignContact.Status.CALLBACK_SCHEDULED:
        entry.status = (
            CampaignContact.Status.RETRY_SCHEDULED
            if entry.attempts
            else CampaignContact.Status.PENDING
        )
    entry.next_attempt_at = until
    entry.note = note
    entry.save(update_fields=["status", "next_attempt_at", "note", "held_by", "updated_at"])


def _dispatch_soon(campaign_id: int, *, now: datetime) -> None:
    """The campaign's dispatch, here and now (after commit), its call placed here too: a place
    just freed is refilled without a trip through the broker. Within a batch (a webhook drain's:
    contactcenter.batches), once at the batch's end, for every place its hang-ups freed."""
    refill = _refill(campaign_id, now=now)
    transaction.on_commit(lambda: after_batch(f"dispatch:{campaign_id}", refill) or refill())


def _refill(campaign_id: int, *, now: datetime) -> Callable[[], object]:
    """The campaign's dispatch, its first calls placed by this process (no broker trip)."""
    from campaigns.services.dispatch import dispatch_campaign

    return lambda: dispatch_campaign(campaign_id=campaign_id, now=now, place_here=True)


def campaign_record_finished_calls(*, campaign: Campaign) -> int:
    """Sweep: contacts still "in progress" whose call has ended (a lost signal) move on."""
    from telephony.states import TERMINAL_STATUSES

    stale = CampaignContact.objects.filter(
        campaign=campaign,
        status=CampaignContact.Status.IN_PROGRESS,
        last_call__status__in=TERMINAL_STATUSES,
    ).values_list("last_call_id", flat=True)[:1000]
    call_ids = list(stale)
    for call_id in call_ids:  # the sweeping dispatcher is about to claim: no refill needed
        campaign_record_call_outcome(call_id=call_id, refill=False)
    return len(call_ids)


# -- progress ---------------------------------------------------------------------------------


def campaign_progress(campaign: Campaign, *, fresh: bool = False) -> dict:
    """Dialed, remaining and outcomes at a glance (grouped queries, any size)."""
    return campaigns_progress([campaign], fresh=fresh)[campaign.pk]


def _progress(
    campaign: Campaign,
    by_status: dict[str, int],
    dialed: int,
    calls: dict[str, int],
    cap: int,
    planned: int,
    waiting: list[str],
) -> dict:
    """One campaign's figures from counts already grouped. Before it starts, a campaign has no
    contacts of its own yet: it shows those its lists would give it (`planned`). Contacts a
    cancellation stopped are counted as cancelled, not done."""
    total = sum(by_status.values())
    remaining = sum(by_status.get(status, 0) for status in OPEN_CONTACT_STATUSES)
    cancelled = by_status.get(CampaignContact.Status.CANCELLED, 0)
    done = total - remaining - cancelled
    return {
        "campaign": campaign.pk,
        "status": campaign.status,
        "planned": not total,
        "contacts": total or planned,
        "cancelled": cancelled,
        "by_contact_status": by_status,
        "dialed": dialed,
        "remaining": remaining,
        "done": done,
        "percent_done": round(100 * done / total, 1) if total else 0.0,
        "live_calls": sum(calls.get(status, 0) for status in LIVE_STATUSES),
        "calls": sum(calls.values()),
        "calls_by_status": calls,
        "max_concurrent_calls": campaign.max_concurrent_calls,
        "account_cap": cap,
        "waiting": waiting,
    }


def campaigns_progress(campaigns: Iterable[Campaign], *, fresh: bool = False) -> dict[int, dict]:
    """Progress of many campaigns, and why each waits, in a fixed number of grouped queries
    whatever their number.

    Counting a campaign of a million contacts takes most of a second, and pages ask every few
    seconds: the counts of a campaign over PROGRESS_CACHE_ABOVE contacts are reused for
    PROGRESS_CACHE_SECONDS (`fresh` counts anew, for what is sent out of the product)."""
    campaigns = list(campaigns)
    by_status: dict[int, dict[str, int]] = defaultdict(dict)
    dialed: Counter[int] = Counter()
    calls: dict[int, dict[str, int]] = defaultdict(dict)
    waiting: dict[int, list[str]] = {}
    kept = {} if fresh else cache.get_many([_progress_key(c.pk) for c in campaigns])
    for campaign in campaigns:
        if (counts := kept.get(_progress_key(campaign.pk))) is not None:
            pk = campaign.pk
            by_status[pk], dialed[pk], calls[pk], waiting[pk] = counts
    counted = [campaign for campaign in campaigns if _progress_key(campaign.pk) not in kept]
    ids = [campaign.pk for campaign in counted]
    if ids:
        contact_rows = (
            CampaignContact.objects.filter(campaign_id__in=ids)
            .order_by()
            .values("campaign_id", "status")
            .annotate(n=Count("id"), dialed=Count("id", filter=Q(attempts__gt=0)))
        )
        for row in contact_rows:
            by_status[row["campaign_id"]][row["status"]] = row["n"]
            dialed[row["campaign_id"]] += row["dialed"]
        call_rows = (
            CampaignAttempt.objects.filter(campaign_id__in=ids)
            .order_by()
            .values("campaign_id", "call__status")
            .annotate(n=Count("id"))
        )
        for row in call_rows:
            calls[row["campaign_id"]][row["call__status"]] = row["n"]
        waiting.update(campaigns_waiting(counted))
        large = {
            _progress_key(pk): (by_status[pk], dialed[pk], calls[pk], waiting[pk])
            for pk in ids
            if sum(by_status[pk].values()) > settings.PROGRESS_CACHE_ABOVE
        }
        if large:
            cache.set_many(large, timeout=settings.PROGRESS_CACHE_SECONDS)
    planned = _planned_contacts([c.pk for c in campaigns if not by_status[c.pk]])
    cap = settings.AGORA_MAX_CONCURRENT_CALLS
    return {
        campaign.pk: _progress(
            campaign,
            by_status[campaign.pk],
            dialed[campaign.pk],
            calls[campaign.pk],
            cap,
            planned[campaign.pk],
            waiting[campaign.pk],
        )
        for campaign in campaigns
    }


def _progress_key(campaign_id: int) -> str:
    return f"campaign-progress:{campaign_id}"


def _planned_contacts(campaign_ids: list[int]) -> Counter[int]:
    """How many contacts starting would enrol (as _enrol_contacts does: each contact once), for
    campaigns that have none yet; one grouped query, none when there are no such campaigns."""
    planned: Counter[int] = Counter()
    if campaign_ids:
        rows = (
            Contact.objects.filter(contact_list__campaigns__in=campaign_ids)
            .order_by()
            .values("contact_list__campaigns")
            .annotate(n=Count("id", distinct=True))
        )
        for row in rows:
            planned[row["contact_list__campaigns"]] = row["n"]
    return planned


def campaigns_using_number(number: PhoneNumber):
    return Campaign.objects.filter(caller_ids=number, status__in=ACTIVE_CAMPAIGN_STATUSES)


def running_campaign_guard(number: PhoneNumber) -> str | None:
    """Registered with telephony: a number an active campaign calls from cannot be deleted."""
    names = list(campaigns_using_number(number).values_list("name", flat=True)[:3])
    if not names:
        return None
    return f"{number.e164} is the caller ID of active campaign(s): {', '.join(names)}."
