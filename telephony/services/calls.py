"""Calls: create, place exactly once, merge what Agora reports, hang up.

Rules kept here (product.md, invariants 1, 2 and 4):
- no HTTP inside a transaction or while a row lock is held: intent is recorded and committed,
  then Agora is called, then the result is recorded in a new transaction;
- a call's Agora name and channel come from its id, so a repeated place-call is answered 409 and
  the existing call is found again by listing calls for the number and matching the channel;
- statuses change only through `call_transition`, only forwards (telephony.states);
- the account cap is checked under one lock by everything that starts a call: placement counts
  live calls only, right before dialing (telephony.services.capacity says why);
- a call's times (dialed, ringing, answered, ended) and so its duration are when things happened
  at Agora (a webhook's report_ms, a call record's stop_ts), not when we processed the report:
  a report processed late, or out of order, corrects them; our own processing time stays in
  the event log (CallEvent.created_at). A completed call always has an answer time.
"""

import logging
import math
import os
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from contactcenter import metrics
from contactcenter.batches import after_batch
from contactcenter.bulk import bulk_update_rows
from contactcenter.logs import current_context, log_context
from contactcenter.validators import validate_json_text
from telephony import transcripts
from telephony.agora import (
    AgoraAPIError,
    AgoraError,
    AgoraTransportError,
    CallNameConflict,
    ConcurrencyLimitExceeded,
    PlaceCallRequest,
    retry_delay,
)
from telephony.agora.tokens import build_call_tokens
from telephony.agora.webhooks import CALL_STATE_EVENTS, int_or_none, payload_of
from telephony.callee_regions import RegionError, parse_region
from telephony.clients import agora_client
from telephony.models import (
    AgentProfile,
    Call,
    CallEvent,
    PhoneNumber,
    RefusedCall,
    VoicemailPolicy,
    WebhookEvent,
    new_call_id,
)
from telephony.rules import (
    OVERRIDABLE_RULES,
    CallRefused,
    CallTarget,
    Refusal,
    Rule,
    RulesOverride,
    dialing_rules,
)
from telephony.services.agents import MissingTemplateVariables, agent_properties_for_call
from telephony.services.capacity import live_call_count, lock_capacity
from telephony.services.tool_credentials import (
    mcp_server_entry,
    tool_credentials_store,
    tool_token_new,
    tools_offered,
)
from telephony.signals import call_ended, call_status_changed
from telephony.states import (
    AGORA_LIVE_STATE_TO_STATUS,
    ANSWERED_ENDINGS,
    INBOUND_LIVE_STATE_TO_STATUS,
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    CallStatus,
    can_transition,
    ended_status,
)
from telephony.validators import normalize_phone_number

logger = logging.getLogger(__name__)

# Each call has its own channel, so the two members can use the same uids every time.
AGENT_RTC_UID = "1001"
SIP_RTC_UID = "2001"
MAX_PLACEMENT_ATTEMPTS = 8
UNSUCCESSFUL_ENDINGS = frozenset(
    {
        CallStatus.FAILED,
        CallStatus.NO_ANSWER,
        CallStatus.BUSY,
        CallStatus.CANCELED,
        CallStatus.VOICEMAIL,
    }
)
# A single call scheduled for later: at most this far ahead.
MAX_SCHEDULE_AHEAD = timedelta(days=90)
# Look this far back (seconds) when listing calls to find one placed before an answer was lost.
FIND_WINDOW_SECONDS = 600
# What a report or a notification never changes, and which grows with the call: left unread.
LARGE_CALL_FIELDS = ("transcript", "turn_metrics")
SNAPSHOT_FIELDS = ("transcript", "answered_at", "snapshot_gap_seconds", "agent_profile__properties")
# However fast a conversation, transcript snapshots are at least this far apart.
SNAPSHOT_FLOOR_SECONDS = 5


class PlacementDeferred(Exception):
    """Placement cannot finish now; try again in `countdown` seconds."""

    def __init__(self, reason: str, *, countdown: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.countdown = countdown


def call_identity(call_id: uuid.UUID) -> tuple[str, str]:
    """(Agora name, channel) of a call: derived from its id, so retries reuse them."""
    return f"cc-{call_id}", f"cc{call_id.hex}"


def _event(call: Call, *, source: str, kind: str, **fields: Any) -> CallEvent:
    return CallEvent.objects.create(call=call, source=source, kind=kind, **fields)


# -- creating ---------------------------------------------------------------------------------


@dataclass
class NewCall:
    """One outbound call to queue: what `call_create` takes, for `calls_create`'s batches."""

    to_number: str
    caller_id: PhoneNumber
    agent_profile: AgentProfile
    variables: dict[str, Any] | None = None
    labels: dict[str, str] | None = None
    callee_timezone: str = ""
    callee_region: str = ""  # "US-TX": for the regional rules and holidays; else the number's
    holidays_allowed: bool = False  # a campaign calling on public holidays (never the API)
    note: str = ""
    voicemail_policy: str = VoicemailPolicy.HANG_UP
    voicemail_message: str = ""

    def target(self) -> CallTarget:
        return CallTarget(
            self.to_number, self.callee_timezone, self.callee_region, self.holidays_allowed
        )


def call_create(
    *,
    to_number: str,
    caller_id: PhoneNumber,
    agent_profile: AgentProfile,
    variables: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
    callee_timezone: str = "",
    callee_region: str = "",
    source: str = CallEvent.Source.API,
    note: str = "",
    now: datetime | None = None,
    override: RulesOverride | None = None,
    voicemail_policy: str = VoicemailPolicy.HANG_UP,
    voicemail_message: str = "",
    scheduled_for: datetime | None = None,
    requested_by: str = "",
) -> Call:
    """Queue one outbound call; it is placed by a worker after this transaction commits, or at
    `scheduled_for` (beat's `place_scheduled_calls`), the dialing rules checked for that time.

    The dialing rules (telephony.rules) must allow the call at `now`, or CallRefused is raised
    and the refusal is logged (RefusedCall, with `requested_by`: who asked); `override` lets
    staff with the permission past the overridable ones, recorded on the call.
    """
    now = now or timezone.now()
    try:
        return _call_create(
            NewCall(
                to_number=to_number,
                caller_id=caller_id,
                agent_profile=agent_profile,
                variables=variables,
                labels=labels,
                callee_timezone=callee_timezone,
                callee_region=callee_region,
                note=note,
                voicemail_policy=voicemail_policy,
                voicemail_message=voicemail_message,
            ),
            source=source,
            now=now,
            override=override,
            scheduled_for=scheduled_for,
        )
    except CallRefused as refused:
        # After the rollback: the log keeps the refusal whatever the transaction did.
        _log_refused_call(refused, caller_id=caller_id, agent_profile=agent_profile,
                          source=source, requested_by=requested_by, now=now)  # fmt: skip
        raise


def _log_refused_call(
    refused: CallRefused,
    *,
    caller_id: PhoneNumber,
    agent_profile: AgentProfile,
    source: str,
    requested_by: str,
    now: datetime,
) -> None:
    target, refusal = refused.target, refused.refusal
    try:
        RefusedCall.objects.create(
            refused_at=now,
            to_number=target.to_number,
            callee_timezone=target.callee_timezone,
            callee_region=target.callee_region,
            scheduled_for=refused.scheduled_for,
            caller_id=caller_id.e164,
            agent_profile=agent_profile.name,
            source=source,
            requested_by=requested_by[:150],
            rule=refusal.rule.value,
            message=refusal.message[:500],
            allowed_at=refusal.opens_at,
        )
    except DatabaseError:  # the refusal itself stands; its log entry is what is lost
        logger.exception("could not log the refused call to %s", target.to_number)


@transaction.atomic
def _call_create(
    new: NewCall,
    *,
    source: str,
    now: datetime,
    override: RulesOverride | None,
    scheduled_for: datetime | None,
) -> Call:
    new = _validated(new)
    if scheduled_for is not None:
        if scheduled_for.tzinfo is None:
            raise ValidationError({"scheduled_for": "Give a time zone offset (or Z for UTC)."})
        if scheduled_for > now + MAX_SCHEDULE_AHEAD:
            raise ValidationError(
                {"scheduled_for": f"At most {MAX_SCHEDULE_AHEAD.days} days ahead."}
            )
        if scheduled_for <= now:
            scheduled_for = None  # now, or already past: placed at once
    overridden = _check_override(override)
    [answer] = dialing_rules().new_call_checks(
        calls=[new.target()], now=scheduled_for or now, overridden=overridden
    )
    if isinstance(answer, Refusal):
        raise CallRefused(answer, target=new.target(), scheduled_for=scheduled_for)
    # What the rules would have said, asked before the call exists (it would count itself).
    would = _would_refuse(new, now=now) if override else None
    call, queued = _built(new, source=source, scheduled_for=scheduled_for)
    call.rules_applied = answer.applied
    if override:
        call.rules_override_reason = override.reason
        call.rules_overridden_by = override.user
    call.save(force_insert=True)
    queued.save(force_insert=True)
    if override:
        _record_override(call, override, now=now, would=would)
    if scheduled_for is None:
        _enqueue_placements([call.id])
    return call


@transaction.atomic
def calls_create(
    new_calls: list[NewCall],
    *,
    source: str,
    now: datetime | None = None,
    place_here: bool = False,
) -> list[Call | ValidationError]:
    """Queue many outbound calls at once: `calls_prepare`, then `calls_insert` of every call
    it built. One answer per call, in order: its Call, or the ValidationError (a CallRefused
    for the dialing rules) that kept it from being queued."""
    answers = calls_prepare(new_calls, source=source, now=now)
    calls_insert([answer for answer in answers if isinstance(answer, BuiltCall)],
                 place_here=place_here)  # fmt: skip
    return [answer.call if isinstance(answer, BuiltCall) else answer for answer in answers]


@dataclass(frozen=True)
class BuiltCall:
    """A queued call checked and built, not yet stored (`calls_insert` stores it)."""

    call: Call
    queued: CallEvent


def calls_prepare(
    new_calls: list[NewCall],
    *,
    source: str,
    now: datetime | None = None,
    rule_facts: object | None = None,
) -> list[BuiltCall | ValidationError]:
    """Check and build a batch of outbound calls (a dispatcher's chunk) as `call_create`
    checks one, the dialing rules reading the database once for the batch; nothing is
    stored. One answer per call, in order: the BuiltCall, or the ValidationError (a
    CallRefused for the dialing rules) that keeps it from being queued.

    Apart from `calls_insert` so that a caller can check and build before it takes a lock it
    needs only for deciding how many to store (the dispatcher's capacity lock). `rule_facts`:
    what the dialing rules read for these numbers in this transaction already (the rules'
    own type: telephony passes it on)."""
    now = now or timezone.now()
    answers: list[BuiltCall | ValidationError] = []
    valid: list[tuple[int, NewCall]] = []
    for index, new in enumerate(new_calls):
        try:
            valid.append((index, _validated(new)))
        except ValidationError as error:
            answers.append(error)
        else:
            answers.append(None)  # type: ignore[arg-type]  # filled in below
    checks = dialing_rules().new_call_checks(
        calls=[new.target() for _, new in valid], now=now, facts=rule_facts
    )
    for (index, new), answer in zip(valid, checks, strict=True):
        if isinstance(answer, Refusal):
            answers[index] = CallRefused(answer)
        else:
            built = BuiltCall(*_built(new, source=source, scheduled_for=None))
            built.call.rules_applied = answer.applied
            answers[index] = built
    return answers


@transaction.atomic(savepoint=False)  # within a caller's transaction, all or nothing with it
def calls_insert(built: list[BuiltCall], *, place_here: bool = False) -> None:
    """Store calls `calls_prepare` built: two INSERTs for all of them, and one placement task
    per CALL_PLACEMENT_BATCH_SIZE calls, after commit.

    `place_here`: the first batch is placed by this process after commit instead (a worker
    refilling the place a call just freed: no trip through the broker)."""
    Call.objects.bulk_create([item.call for item in built])
    CallEvent.objects.bulk_create([item.queued for item in built])
    call_ids = [item.call.id for item in built]
    if place_here and call_ids:
        size = settings.CALL_PLACEMENT_BATCH_SIZE
        here, call_ids = call_ids[:size], call_ids[size:]
        transaction.on_commit(lambda: _place_here(here))
    _enqueue_placements(call_ids)


def _place_here(call_ids: list[uuid.UUID]) -> None:
    try:
        calls_place_and_retry_later([str(call_id) for call_id in call_ids])
    except Exception:  # the calls are committed: a task places them instead
        logger.exception("placing %s calls here failed; queued for a worker", len(call_ids))
        _enqueue_placements(call_ids)


def _validated(new: NewCall) -> NewCall:
    """`new` with its number in E.164 and its fields checked; ValidationError names the field."""
    try:
        to_e164 = normalize_phone_number(new.to_number)
    except ValidationError as error:
        raise ValidationError({"to_number": error.messages}) from None
    callee_timezone = (new.callee_timezone or "").strip()
    if callee_timezone:
        try:
            ZoneInfo(callee_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                {
                    "callee_timezone": f"'{callee_timezone}' is not an IANA time zone (e.g. "
                    "America/New_York)."
                }
            ) from None
    callee_region = (new.callee_region or "").strip()
    if callee_region:
        try:
            callee_region = parse_region(callee_region).code
        except RegionError as error:
            raise ValidationError({"callee_region": str(error)}) from None
    caller_id = new.caller_id
    if not caller_id.outbound:
        raise ValidationError({"caller_id": f"{caller_id.e164} is not enabled for outbound calls."})
    if caller_id.sync_state == PhoneNumber.SyncState.DELETING:
        raise ValidationError({"caller_id": f"{caller_id.e164} is being deleted."})
    variables = dict(new.variables or {})
    for name, value in (("variables", variables), ("labels", new.labels or {})):
        try:
            validate_json_text(value)
        except ValidationError as error:
            raise ValidationError({name: error.messages}) from None
    try:
        agent_properties_for_call(new.agent_profile, variables)
    except MissingTemplateVariables as error:
        raise ValidationError({"variables": str(error)}) from None
    if new.voicemail_policy not in VoicemailPolicy.values:
        raise ValidationError({"voicemail_policy": f"One of {', '.join(VoicemailPolicy.values)}."})
    if new.voicemail_policy == VoicemailPolicy.LEAVE_MESSAGE and not new.voicemail_message.strip():
        raise ValidationError({"voicemail_message": "Say what to leave on the voicemail."})
    return replace(
        new,
        to_number=to_e164,
        callee_timezone=callee_timezone,
        callee_region=callee_region,
        variables=variables,
    )


def _built(new: NewCall, *, source: str, scheduled_for: datetime | None) -> tuple[Call, CallEvent]:
    """The (unsaved) queued call and its first event."""
    call_id = new_call_id()
    name, channel = call_identity(call_id)
    call = Call(
        id=call_id,
        direction=Call.Direction.OUTBOUND,
        to_number=new.to_number,
        from_number=new.caller_id.e164,
        caller_id=new.caller_id,
        agent_profile=new.agent_profile,
        agora_name=name,
        channel=channel,
        pipeline_id=new.agent_profile.pipeline_id,
        variables=new.variables,
        labels={str(k): str(v) for k, v in (new.labels or {}).items()},
        callee_timezone=new.callee_timezone,
        callee_region=new.callee_region,
        voicemail_policy=new.voicemail_policy,
        voicemail_message=new.voicemail_message,
        scheduled_for=scheduled_for,
    )
    when = f" for {scheduled_for:%Y-%m-%d %H:%M} UTC" if scheduled_for else ""
    queued = CallEvent(
        call=call,
        source=source,
        kind=CallEvent.Kind.STATUS,
        to_status=CallStatus.QUEUED,
        detail=(new.note or "call queued") + when,
    )
    return call, queued


def calls_place_scheduled(*, now: datetime | None = None, limit: int = 500) -> int:
    """Beat: queue the placement of calls scheduled for now or earlier, once each (a placement
    that stalls afterwards is `calls_recover_stuck`'s)."""
    now = now or timezone.now()
    due = list(
        Call.objects.filter(
            status=CallStatus.QUEUED,
            scheduled_for__lte=now,
            placement_attempts=0,
            last_update_at__lt=F("scheduled_for"),
        ).values_list("id", flat=True)[:limit]
    )
    with transaction.atomic():
        sent = [
            call_id
            for call_id in due
            if Call.objects.filter(pk=call_id, last_update_at__lt=F("scheduled_for")).update(
                last_update_at=now
            )
        ]
        _enqueue_placements(sent)
    return len(due)


def call_create_inbound(
    *,
    agent_id: str,
    agora_name: str = "",
    channel: str = "",
    source: str = CallEvent.Source.WEBHOOK,
) -> Call | None:
    """Track a call someone made to one of our numbers, which Agora knows as `agent_id`.

    Asks Agora about the call (HTTP, before any transaction), so call it with no lock held.
    None when the call is not to one of our numbers taking inbound calls. Safe to run twice:
    a second notification about the same call finds the call the first one created.
    """
    if not agent_id:
        return None
    info = agora_client().get_call(agent_id)
    number = PhoneNumber.objects.filter(e164=info.to_number, inbound=True).first()
    if number is None:
        return None
    call_id = new_call_id()
    name, _ = call_identity(call_id)
    try:
        with transaction.atomic():
            call = Call.objects.create(
                id=call_id,
                direction=Call.Direction.INBOUND,
                to_number=info.to_number or number.e164,
                from_number=info.from_number or "",
                caller_id=number,
                agora_name=(agora_name or name)[:64],
                channel=(channel or info.channel or name)[:64],
                agent_id=agent_id,
                pipeline_id=info.pipeline_id or number.inbound_pipeline_id,
            )
            _event(
                call,
                source=source,
                kind=CallEvent.Kind.STATUS,
                to_status=CallStatus.QUEUED,
                detail=f"inbound call from {call.from_number} to {call.to_number}",
            )
    except IntegrityError:
        # Another notification about the same call created it first.
        return Call.objects.filter(agent_id=agent_id).first()
    return call


def _check_override(override: RulesOverride | None) -> frozenset[Rule]:
    if override is None:
        return frozenset()
    if not override.user.has_perm("telephony.override_dialing_rules"):
        raise PermissionDenied("Overriding the dialing rules needs its own permission.")
    if not override.reason.strip():
        raise ValidationError({"override_reason": "Say why the rules are overridden."})
    return OVERRIDABLE_RULES


def _would_refuse(new: NewCall, *, now: datetime) -> Refusal | None:
    return dialing_rules().new_call_refusal(target=new.target(), now=now, overridden=frozenset())


def _record_override(
    call: Call, override: RulesOverride, *, now: datetime, would: Refusal | None
) -> None:
    """The audit entry: who, why, and what the rules would have said without the override."""
    _event(
        call,
        source=CallEvent.Source.STAFF,
        kind=CallEvent.Kind.NOTE,
        detail=f"dialing rules overridden by {override.user.get_username()}: {override.reason}",
        payload={
            "user_id": override.user.pk,
            "username": override.user.get_username(),
            "reason": override.reason,
            "rules": sorted(OVERRIDABLE_RULES),
            "would_have_refused": would.message if would else None,
        },
    )


def _enqueue_placements(call_ids: list[uuid.UUID]) -> None:
    """After commit: one placement task per call, or per CALL_PLACEMENT_BATCH_SIZE calls."""
    from telephony.tasks import place_call, place_calls

    ids = [str(call_id) for call_id in call_ids]
    if len(ids) == 1:
        place_call.delay_on_commit(ids[0])
        return
    size = settings.CALL_PLACEMENT_BATCH_SIZE
    for start in range(0, len(ids), size):
        place_calls.delay_on_commit(ids[start : start + size])


# -- the state machine ------------------------------------------------------------------------


def call_transition(
    call: Call,
    target: str,
    *,
    source: str,
    detail: str = "",
    at: datetime | None = None,
    agora_state: str = "",
    report_ms: int | None = None,
    payload: dict | None = None,
    stored_with: CallEvent | None = None,
) -> bool:
    """Move `call` (locked, inside a transaction) to `target` if that is a step forward.

    `at` is when it happened at Agora, when the report says (else: now). `stored_with`: an
    unsaved event (the report that made the step) stored with the step's, in one INSERT, when
    there is a step; otherwise the caller stores it."""
    event = _transition(
        call, target, source=source, detail=detail, at=at, agora_state=agora_state,
        report_ms=report_ms, payload=payload,
    )  # fmt: skip
    if event is None:
        return False
    call.save()
    CallEvent.objects.bulk_create([*filter(None, [stored_with]), event])
    _after_transition(call, event.to_status)
    return True


def _transition(
    call: Call,
    target: str,
    *,
    source: str,
    detail: str = "",
    at: datetime | None = None,
    agora_state: str = "",
    report_ms: int | None = None,
    payload: dict | None = None,
) -> CallEvent | None:
    """`call_transition` in memory: the call's fields moved to `target` and its (unsaved) event,
    or None when `target` is no step forward. The caller saves both, then `_after_transition`
    (a batch saves many at once)."""
    if target == CallStatus.COMPLETED and call.voicemail_detected_at:
        target = CallStatus.VOICEMAIL  # a machine answered, not a person
        detail = f"voicemail ({call.voicemail_detected_by}): {detail}" if detail else "voicemail"
    if call.status == target or not can_transition(call.status, target):
        return None
    now = timezone.now()
    happened = at or now
    previous = call.status
    call.status = target
    if target in LIVE_STATUSES or target in TERMINAL_STATUSES:
        call.dialed_at = _earliest(call.dialed_at, happened)
    if target == CallStatus.RINGING:
        call.ringing_at = _earliest(call.ringing_at, happened)
    if target == CallStatus.ANSWERED:
        call.answered_at = _earliest(call.answered_at, happened)
        _first_snapshot_with_the_voicemail_check(call, now=now)
    if target in TERMINAL_STATUSES:
        call.ended_at = happened
        call.placement_lease_until = None
        call.next_poll_at = None
        if target in ANSWERED_ENDINGS and call.answered_at is None:
            call.answered_at = _answer_time_of_unseen_answer(call)
        _set_duration(call)
    else:
        call.next_poll_at = now + timedelta(seconds=settings.CALL_POLL_AFTER_SECONDS)
    if target == CallStatus.FAILED and detail and not call.last_error:
        call.last_error = detail
    if target in TERMINAL_STATUSES and detail:
        call.end_reason = detail[:200]
    call.last_update_at = now
    call.unchanged_polls = 0
    return CallEvent(
        call=call,
        source=source,
        kind=CallEvent.Kind.STATUS,
        from_status=previous,
        to_status=target,
        agora_state=agora_state,
        report_ms=report_ms,
        detail=detail[:500],
        payload=payload or {},
    )


def _status_changed_on_commit(calls: list[Call], status: str) -> None:
    """`call_status_changed` for these calls, once, after commit (calls not ending: an end's
    is sent by _on_ended's callback)."""
    changed_ids = [str(call.id) for call in calls]
    if not changed_ids:
        return
    transaction.on_commit(
        lambda: call_status_changed.send(sender=Call, call_ids=changed_ids, status=status)
    )


def _after_transition(call: Call, target: str) -> None:
    """What follows a saved step: CRM webhooks, the end's work, voicemail checks."""
    # -- CRM webhooks (contactcenter.crm_webhooks.receivers): every status change, after commit; a
    # terminal one is sent by _on_ended's callback (one on-commit callback per change) --
    if target not in TERMINAL_STATUSES:
        _status_changed_on_commit([call], target)
    # -- end CRM webhooks --
    if target in TERMINAL_STATUSES:
        _on_ended(call)
    if target == CallStatus.ANSWERED:
        from telephony.services.voicemail import start_voicemail_checks

        start_voicemail_checks(call)


def _first_snapshot_with_the_voicemail_check(call: Call, *, now: datetime) -> None:
    """The voicemail detector's looks at the history are the transcript's first snapshots
    (each sets when the next is due): a poll meanwhile need not take one of its own (it would
    cost every answered call one request more). Should the detector get no history at all, a
    poll takes it after the detector's last look."""
    from telephony.services.voicemail import last_check_delay

    delay = last_check_delay(call)
    if delay is not None and call.next_snapshot_at is None:
        call.next_snapshot_at = now + timedelta(seconds=delay + SNAPSHOT_FLOOR_SECONDS)


def _earliest(known: datetime | None, reported: datetime) -> datetime:
    return reported if known is None or reported < known else known


def _set_duration(call: Call) -> None:
    if call.answered_at and call.ended_at:
        call.duration_seconds = max(0, round((call.ended_at - call.answered_at).total_seconds()))


def _answer_time_of_unseen_answer(call: Call) -> datetime:
    """A call that completed (the other party hung up: so it talked) whose answer we never saw
    (a short call between two polls): answered, with no talk time made up, so at its end. An
    ANSWERED report that comes later puts the true time in its place (_correct_times)."""
    return call.ended_at or timezone.now()


def _correct_times(
    call: Call, state: str, at: datetime, *, first_report: bool, precise: bool
) -> bool:
    """A report of a step the call has already taken, with Agora's time of it: the time we kept
    was a guess (processing time, or a poll's) or a later duplicate; keep the earliest, except
    that the first ANSWERED report replaces a guessed answer time. Returns whether it changed."""
    before = (call.dialed_at, call.ringing_at, call.answered_at, call.ended_at)
    if state in ("CALLING", "START") and call.dialed_at:
        call.dialed_at = _earliest(call.dialed_at, at)
    elif state == "RINGING" and call.ringing_at:
        call.ringing_at = _earliest(call.ringing_at, at)
    elif state == "ANSWERED" and (call.answered_at or call.status in ANSWERED_ENDINGS):
        call.answered_at = at if first_report else _earliest(call.answered_at or at, at)
    elif state == "HANGUP" and call.is_terminal and precise:
        call.ended_at = at  # a webhook's millisecond time; a poll's whole second never overrides
    if (call.dialed_at, call.ringing_at, call.answered_at, call.ended_at) == before:
        return False
    _set_duration(call)
    return True


def _on_ended(call: Call) -> None:
    from telephony.tasks import fetch_call_agent_data

    call_id, status, placed = str(call.id), call.status, bool(call.agent_id)
    labels = None if "labels" in call.get_deferred_fields() else dict(call.labels)

    def told_and_fetched() -> None:
        call_status_changed.send(sender=Call, call_ids=[call_id], status=status)  # CRM webhooks
        if placed:  # post-call work: it waits out the refill of the place this call freed
            fetch_call_agent_data.apply_async(
                (call_id,), countdown=settings.CALL_AGENT_DATA_DELAY_SECONDS
            )

    def after_commit() -> None:
        # In a webhook drain's batch this waits for the refills of the places the batch's
        # hang-ups freed (contactcenter.batches), in the order the calls ended.
        after_batch(f"ended:{call_id}", told_and_fetched, late=True) or told_and_fetched()
        call_ended.send(sender=Call, call_id=call_id, status=status, labels=labels)

    transaction.on_commit(after_commit)


@dataclass(frozen=True)
class AgoraReport:
    """One thing Agora said about a call: a webhook state, a poll, or an API answer."""

    state: str | None = (
        None  # webhook: START/CALLING/RINGING/ANSWERED/HANGUP; REST: answered/hangup
    )
    reason: str | None = None  # request | hangup | failed (when ended)
    report_ms: int | None = None
    create_ts: int | None = None
    stop_ts: int | None = None
    raw: dict = field(default_factory=dict)


def call_apply_report(*, call_id: uuid.UUID | str, report: AgoraReport, source: str) -> Call:
    """Merge a report into the call: monotonic, out-of-order safe, every report kept."""
    with transaction.atomic():
        call = Call.objects.select_for_update().defer(*LARGE_CALL_FIELDS).get(pk=call_id)
        state = (report.state or "").upper()
        # The report itself, kept whatever it changes: stored with the step it makes, if any,
        # in one INSERT (one round trip less per state notification).
        signal = CallEvent(
            call=call,
            source=source,
            kind=CallEvent.Kind.SIGNAL,
            agora_state=state,
            report_ms=report.report_ms,
            detail=f"Agora: {state or 'no state'}"
            + (f" ({report.reason})" if report.reason else ""),
            payload=report.raw,
        )
        if report.reason:
            call.agora_reason = report.reason
        first_report = state not in call.seen_states
        if state and first_report and state != "HANGUP":
            call.seen_states = [*call.seen_states, state]
        if report.report_ms and report.report_ms > (call.last_report_ms or 0):
            call.last_report_ms = report.report_ms
        at = agora_time(report)
        if _should_settle(call, state, source):
            # Wait for stragglers before deciding between busy, no answer and failed.
            if call.end_pending_since is None:
                call.end_pending_since = timezone.now()
                _enqueue_finalize(call.id)
            call.last_update_at = timezone.now()
            call.save()
            signal.save(force_insert=True)
            return call
        target, detail = _target_for(call, state, report)
        if target is None or not call_transition(
            call,
            target,
            source=source,
            detail=detail,
            at=at,
            agora_state=state,
            report_ms=report.report_ms,
            stored_with=signal,
        ):
            signal.save(force_insert=True)
            if at and _correct_times(
                call, state, at, first_report=first_report, precise=bool(report.report_ms)
            ):
                _event(call, source=source, kind=CallEvent.Kind.NOTE,
                       detail=f"times corrected by Agora's {state} report")  # fmt: skip
            call.last_update_at = timezone.now()
            call.save()
        return call


def _should_settle(call: Call, state: str, source: str) -> bool:
    """An unanswered call's end seen by a webhook waits: an earlier state may still be coming."""
    return (
        state == "HANGUP"
        and source == CallEvent.Source.WEBHOOK
        and settings.CALL_END_SETTLE_SECONDS > 0
        and not call.is_terminal
        and call.answered_at is None
        and "ANSWERED" not in call.seen_states
        and call.hangup_requested_at is None
    )


def _enqueue_finalize(call_id: uuid.UUID) -> None:
    from telephony.tasks import finalize_call_end

    countdown = settings.CALL_END_SETTLE_SECONDS
    finalize_call_end.apply_async_on_commit((str(call_id),), countdown=countdown)


def call_finalize_end(*, call_id: uuid.UUID | str) -> Call:
    """End a call whose hang-up was reported, with what is known now (see _should_settle)."""
    reason = _ask_end_reason(call_id)
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call_id)
        if call.is_terminal or call.end_pending_since is None:
            return call
        if reason and not call.agora_reason:
            call.agora_reason = reason
        # Settled from every notification received for the call: processed, or still waiting
        # behind a busy worker (they are applied when processed; this only reads them).
        waiting = _waiting_reports(call)
        seen = set(call.seen_states) | {state for state, _ in waiting}
        target, detail = ended_status(
            answered=call.answered_at is not None or "ANSWERED" in seen,
            agora_reason=call.agora_reason or None,
            hangup_requested=call.hangup_requested_at is not None,
            seen_states=seen,
        )
        reported = _first_report_times(call, waiting)
        if "RINGING" in reported and call.ringing_at is None:
            call.ringing_at = reported["RINGING"]
        if target == CallStatus.COMPLETED and call.answered_at is None:
            call.answered_at = reported.get("ANSWERED")
        call_transition(
            call, target, source=CallEvent.Source.WEBHOOK, detail=detail, at=reported.get("HANGUP")
        )
        return call


def _waiting_reports(call: Call) -> list[tuple[str, int | None]]:
    """(state, report_ms) of the call-state notifications stored for `call` and not processed."""
    if not call.agent_id:
        return []
    bodies = WebhookEvent.objects.filter(
        agent_id=call.agent_id,
        event_type__in=[int(event_type) for event_type in CALL_STATE_EVENTS],
        status__in=[
            WebhookEvent.Status.RECEIVED,
            WebhookEvent.Status.PROCESSING,
            WebhookEvent.Status.FAILED,
        ],
    ).values_list("body", flat=True)
    reports = []
    for body in bodies:
        payload = payload_of(body)
        state = str(payload.get("state") or "").upper()
        if state:
            reports.append((state, int_or_none(payload.get("report_ms"))))
    return reports


def _first_report_times(call: Call, waiting: list[tuple[str, int | None]]) -> dict[str, datetime]:
    """The earliest Agora time of each state reported for `call`, processed or waiting."""
    reports = list(
        call.events.filter(kind=CallEvent.Kind.SIGNAL, report_ms__isnull=False)
        .exclude(agora_state="")
        .values_list("agora_state", "report_ms")
    ) + [(state, ms) for state, ms in waiting if ms]
    times: dict[str, datetime] = {}
    for state, report_ms in reports:
        at = datetime.fromtimestamp(report_ms / 1000, tz=UTC)
        times[state] = _earliest(times.get(state), at)
    return times


def _ask_end_reason(call_id) -> str | None:
    """Webhooks carry no end reason; Agora's call record does (asked outside any lock)."""
    call = Call.objects.filter(pk=call_id).only("agent_id", "agora_reason", "status").first()
    if call is None or call.is_terminal or call.agora_reason or not call.agent_id:
        return None
    try:
        return agora_client().get_call(call.agent_id).reason
    except AgoraError as error:
        logger.info("call %s: could not ask Agora why it ended: %s", call_id, error)
        return None


def agora_time(report: AgoraReport) -> datetime | None:
    """When the reported state happened at Agora: a webhook's report_ms; for an end seen in a
    call record, its stop_ts (whole seconds). None when the report does not say."""
    if report.report_ms:
        return datetime.fromtimestamp(report.report_ms / 1000, tz=UTC)
    if (report.state or "").upper() == "HANGUP" and report.stop_ts:
        return datetime.fromtimestamp(report.stop_ts, tz=UTC)
    return None


def _target_for(call: Call, state: str, report: AgoraReport) -> tuple[str | None, str]:
    if state == "HANGUP":
        lasted = None
        if report.stop_ts and report.create_ts:
            lasted = report.stop_ts - report.create_ts
        return ended_status(
            answered=call.answered_at is not None or "ANSWERED" in call.seen_states,
            agora_reason=report.reason or call.agora_reason or None,
            hangup_requested=call.hangup_requested_at is not None,
            seen_states=set(call.seen_states),
            lasted_seconds=lasted,
        )
    mapping = (
        INBOUND_LIVE_STATE_TO_STATUS
        if call.direction == Call.Direction.INBOUND
        else AGORA_LIVE_STATE_TO_STATUS
    )
    target = mapping.get(state)
    return target, f"Agora reported {state}" if target else ""


def report_from_call_info(info) -> AgoraReport:
    """A REST call object (get or list) as a report: answered, hangup, or still connecting."""
    state = {"answered": "ANSWERED", "hangup": "HANGUP"}.get(info.state or "")
    return AgoraReport(
        state=state,
        reason=info.reason,
        create_ts=info.create_ts,
        stop_ts=info.stop_ts,
        raw=dict(info.raw),
    )


# -- placing (exactly once) -------------------------------------------------------------------


def call_place(*, call_id: uuid.UUID | str) -> str:
    """Place one queued call at Agora (`calls_place` for one). Returns what happened; raises
    PlacementDeferred when it must be tried again later, Call.DoesNotExist when it is gone."""
    outcome = calls_place([call_id])[str(call_id)]
    if isinstance(outcome, PlacementDeferred):
        raise outcome
    if outcome == "missing":
        raise Call.DoesNotExist(f"call {call_id} does not exist")
    return outcome


def calls_place(call_ids: list[uuid.UUID | str]) -> dict[str, "str | PlacementDeferred"]:
    """Place a batch of queued calls at Agora, exactly once each; safe to run twice at once
    with any overlap of batches.

    Four steps, whatever the batch's size: one transaction records the intent and takes places
    under the cap; one takes the last look (ownership, dialing rules); the requests go out at
    once, a thread each, with no transaction open; one transaction records what Agora said.
    Returns what happened to each call, by id: a word, or the PlacementDeferred saying when to
    try it again.
    """
    outcomes, claimed = _claim_for_placement([str(call_id) for call_id in call_ids])
    if claimed:
        stopped = _last_look({call.pk: call.placement_attempts for call, _ in claimed})
        outcomes |= stopped
        sent = _send([(call, body) for call, body in claimed if str(call.pk) not in stopped])
        outcomes |= _record_sent(sent)
    return outcomes


def calls_place_and_retry_later(call_ids: list[uuid.UUID | str]) -> dict[str, int]:
    """`calls_place`, and the calls it deferred queued again, together for each delay (what a
    placement task does). Returns how many calls ended each way."""
    from telephony.tasks import place_calls

    outcomes = calls_place(call_ids)
    later: dict[int, list[str]] = {}
    for call_id, outcome in outcomes.items():
        if isinstance(outcome, PlacementDeferred):
            later.setdefault(math.ceil(outcome.countdown), []).append(call_id)
    for countdown, deferred_ids in sorted(later.items()):
        logger.info("placement of %s calls deferred %ss", len(deferred_ids), countdown)
        place_calls.apply_async((deferred_ids,), countdown=countdown)
    return dict(
        Counter(word if isinstance(word, str) else "deferred" for word in outcomes.values())
    )


# Fields a claim changes: its attempt, its lease, and the step to DIALING (call_transition's).
_CLAIM_FIELDS = [
    "status",
    "dialed_at",
    "next_poll_at",
    "last_update_at",
    "unchanged_polls",
    "placement_attempts",
    "placement_lease_until",
    "updated_at",
]


def _claim_for_placement(
    call_ids: list[str],
) -> tuple[dict[str, "str | PlacementDeferred"], list[tuple[Call, PlaceCallRequest]]]:
    """Record the intent (and take places under the cap) before any HTTP request: one
    transaction for the batch. Its rows are locked first (in id order, as every batch locks
    them) and the requests built; the account's capacity lock comes last, so only the count of
    live calls, the decisions and their writes wait for other batches and the dispatchers."""
    now = timezone.now()
    outcomes: dict[str, str | PlacementDeferred] = dict.fromkeys(call_ids, "missing")
    with transaction.atomic():
        calls = (
            Call.objects.select_for_update(of=("self",))
            .select_related("agent_profile")
            .filter(pk__in=call_ids)
            .order_by("pk")
        )
        ready = [prepared for call in calls if (prepared := _prepared(call, now, outcomes))]
        if not ready:
            return outcomes, []
        lock_capacity()
        free = None  # places left under the cap, counted when first needed
        dialing: list[tuple[Call, CallEvent]] = []
        claimed: list[tuple[Call, PlaceCallRequest]] = []
        tokens: list[tuple[Call, str]] = []
        for call, body, token, failure in ready:
            key = str(call.pk)
            started = None
            if call.status == CallStatus.QUEUED:
                if free is None:
                    free = settings.AGORA_MAX_CONCURRENT_CALLS - live_call_count()
                if free <= 0:
                    outcomes[key] = PlacementDeferred(
                        "the account is at its concurrent-call cap", countdown=5
                    )
                    continue
                free -= 1
                started = _transition(
                    call, CallStatus.DIALING, source=CallEvent.Source.SYSTEM,
                    detail="placing the call",
                )  # fmt: skip
            if failure:
                if started:  # the step to DIALING is kept, then the failure
                    call.save()
                    started.save(force_insert=True)
                    _after_transition(call, CallStatus.DIALING)
                call_transition(call, CallStatus.FAILED, source=CallEvent.Source.SYSTEM,
                                detail=failure)  # fmt: skip
                outcomes[key] = "failed"
                continue
            call.placement_attempts += 1
            call.placement_lease_until = now + timedelta(
                seconds=settings.CALL_PLACEMENT_LEASE_SECONDS
            )
            call.updated_at = now
            dialing.append((call, started))
            claimed.append((call, body))
            if token:
                tokens.append((call, token))
        bulk_update_rows([call for call, _ in dialing], _CLAIM_FIELDS)
        CallEvent.objects.bulk_create([started for _, started in dialing if started])
        tool_credentials_store(tokens, now=now)
        # One CRM emission for the batch (a step to DIALING has no other follow-up).
        _status_changed_on_commit(
            [call for call, started in dialing if started], CallStatus.DIALING
        )
    return outcomes, claimed


def _prepared(
    call: Call, now: datetime, outcomes: dict[str, "str | PlacementDeferred"]
) -> tuple[Call, PlaceCallRequest | None, str | None, str] | None:
    """One locked call of a batch, before the capacity lock: None (its outcome recorded) when
    it is not to be placed now, else (call, request, its tool token, why it fails or "").
    The token is stored only if the call is dialed."""
    key = str(call.pk)
    if call.is_terminal:
        outcomes[key] = "already ended"
        return None
    if call.agent_id:
        outcomes[key] = "already placed"
        return None
    if call.scheduled_for and call.scheduled_for > now:
        outcomes[key] = "not due yet"  # beat's place_scheduled_calls sends it at its time
        return None
    if call.hangup_requested_at:
        outcomes[key] = _cancel_hung_up(call)
        return None
    if call.placement_lease_until and call.placement_lease_until > now:
        outcomes[key] = PlacementDeferred(
            "another worker is placing this call",
            countdown=(call.placement_lease_until - now).total_seconds() + 1,
        )
        return None
    if call.placement_attempts >= MAX_PLACEMENT_ATTEMPTS:
        failure = f"failed: not placed after {call.placement_attempts} attempts" + (
            f" ({call.last_error})" if call.last_error else ""
        )
        return call, None, None, failure
    token = tool_token_new() if tools_offered(call) else None
    try:
        return call, _place_request(call, now=now, tool_token=token), token, ""
    except (MissingTemplateVariables, ValueError) as error:
        return call, None, None, f"failed: {error}"


def _cancel_hung_up(call: Call) -> str:
    """A call hung up before it was placed (locked, inside a transaction) ends unplaced."""
    call_transition(
        call,
        CallStatus.CANCELED,
        source=CallEvent.Source.SYSTEM,
        detail="canceled: hung up before it was placed",
    )
    return "canceled"


def _last_look(attempts: dict[uuid.UUID, int]) -> dict[str, str]:
    """Right before the requests: this worker still owns each placement (its attempt is the
    latest and no agent id was recorded meanwhile: a worker paused past its lease must not send
    a second request), and the dialing rules still allow each call now (the number may have
    been put on do-not-call, the hours or the campaign's window closed, the campaign paused,
    while it waited or while Agora's errors deferred it). `attempts`: each call's claimed
    attempt. Returns the calls that stop here and why; the others go on."""
    now = timezone.now()
    stopped: dict[str, str] = {}
    with transaction.atomic():
        calls = Call.objects.select_for_update().filter(pk__in=list(attempts)).order_by("pk")
        owned = []
        for call in calls:
            if call.is_terminal or call.agent_id or call.placement_attempts != attempts[call.pk]:
                logger.info("call %s: placement attempt %s superseded; not sent", call.pk,
                            attempts[call.pk])  # fmt: skip
                stopped[str(call.pk)] = "superseded"
            elif call.hangup_requested_at:
                stopped[str(call.pk)] = _cancel_hung_up(call)
            else:
                owned.append(call)
        stopped |= {str(pk): "missing" for pk in attempts.keys() - {c.pk for c in calls}}
        refusals = dialing_rules().placement_refusals(calls=owned, now=now) if owned else {}
        for call in owned:
            refusal = refusals.get(str(call.pk))
            if refusal is None:
                continue
            call.refused_by_rule = refusal.rule.value
            call_transition(
                call,
                CallStatus.CANCELED,
                source=CallEvent.Source.SYSTEM,
                detail=f"not dialed: {refusal.message}",
            )
            stopped[str(call.pk)] = "refused"
    return stopped


def _place_request(call: Call, *, now: datetime, tool_token: str | None) -> PlaceCallRequest:
    """The request placing `call`; `tool_token`: its in-call tools' credential, if offered."""
    if call.agent_profile is None:
        raise ValueError("the call has no agent profile")
    pipeline_id, properties = agent_properties_for_call(
        call.agent_profile, call.variables, with_tools=bool(tool_token)
    )
    if tool_token:
        llm = properties.setdefault("llm", {})
        llm["mcp_servers"] = [*llm.get("mcp_servers", []), mcp_server_entry(tool_token)]
        properties.setdefault("advanced_features", {})["enable_tools"] = True
    properties["labels"] = {**properties.get("labels", {}), **call.labels, "call_id": str(call.id)}
    tokens = build_call_tokens(
        app_id=settings.AGORA_APP_ID,
        app_certificate=settings.AGORA_APP_CERTIFICATE,
        channel=call.channel,
        agent_uid=AGENT_RTC_UID,
        sip_uid=SIP_RTC_UID,
        ttl_seconds=settings.CALL_TOKEN_TTL_SECONDS,
        now=now.timestamp(),
    )
    return PlaceCallRequest(
        name=call.agora_name,
        to_number=call.to_number,
        from_number=call.from_number,
        sip_rtc_uid=tokens.sip_uid,
        sip_rtc_token=tokens.sip_token,
        channel=call.channel,
        agent_token=tokens.agent_token,
        agent_rtc_uid=tokens.agent_uid,
        pipeline_id=pipeline_id,
        properties=properties,
    )


@dataclass
class _Sent:
    """What one request to place a call came to: an agent id (and how it was found), a reason
    to try again later, or a reason the call failed. Recorded by `_record_sent`."""

    call: Call
    agent_id: str | None = None
    how: str = ""
    deferred: str = ""
    countdown: float = 0.0
    failed: str = ""


def _send(ready: list[tuple[Call, PlaceCallRequest]]) -> list[_Sent]:
    """The batch's requests, all at once (a thread each: the time is Agora's, not ours). HTTP
    only: nothing here touches the database."""
    ids = current_context()
    if len(ready) <= 1:
        return [_send_one(call, body, ids) for call, body in ready]
    return list(_sending_pool(len(ready)).map(lambda item: _send_one(*item, ids), ready))


_pool: tuple[int, int, ThreadPoolExecutor] | None = None  # (pid, size, pool): per process


def _sending_pool(size: int) -> ThreadPoolExecutor:
    """The process's threads for sending placements (kept: starting threads per batch costs
    more than the requests' own work). As many threads as a batch has calls."""
    global _pool
    if _pool is None or _pool[0] != os.getpid() or _pool[1] < size:
        size = max(size, settings.CALL_PLACEMENT_BATCH_SIZE)
        _pool = (
            os.getpid(),
            size,
            ThreadPoolExecutor(max_workers=size, thread_name_prefix="place"),
        )
    return _pool[2]


def _send_one(call: Call, body: PlaceCallRequest, ids: dict[str, str]) -> _Sent:
    """`ids`: the sender's log context (a pool thread starts without it), to which this call's
    id is added."""
    with log_context(**{**ids, "call_id": call.pk}):  # the task's own call_id replaced
        return _send_one_request(call, body)


def _send_one_request(call: Call, body: PlaceCallRequest) -> _Sent:
    client = agora_client()
    try:
        # One request per last look: a retry (5xx, 429, timeout) is a new claim and a new look
        # at the rules and the ownership, never the client's own retry loop.
        return _Sent(call, agent_id=client.place_call(body, retries=0).agent_id, how="placed")
    except CallNameConflict:
        # Someone (a duplicate task, or our own earlier attempt) already placed it.
        agent_id = _find_placed(call)
        if agent_id is None:
            return _Sent(call, deferred="Agora says the call exists but does not list it yet",
                         countdown=3)  # fmt: skip
        return _Sent(call, agent_id=agent_id, how="found after 409")
    except AgoraTransportError as error:
        agent_id = _find_placed(call) if error.response_lost else None
        if agent_id is None:
            # Nothing placed (or not yet visible): placing again is safe, the name is unique.
            return _Sent(call, deferred=f"Agora unreachable: {error}",
                         countdown=_retry_delay(call, error))  # fmt: skip
        return _Sent(call, agent_id=agent_id, how="found after a lost answer")
    except ConcurrencyLimitExceeded as error:
        return _Sent(call, deferred=f"Agora refused: {error}", countdown=10)
    except AgoraAPIError as error:
        # A 5xx may or may not have placed the call; asking again is safe (unique name).
        if error.retryable or (error.status_code or 0) >= 500:
            return _Sent(call, deferred=str(error), countdown=_retry_delay(call, error))
        return _Sent(call, failed=f"Agora refused the call: {error}")


def _find_placed(call: Call) -> str | None:
    """The agent id of this call if Agora has it: list calls for the number, match the channel."""
    since = int(call.queued_at.timestamp()) - FIND_WINDOW_SECONDS
    try:
        for info in agora_client().iter_calls(number=call.to_number, from_time=since):
            if info.channel == call.channel:
                return info.agent_id
    except AgoraError as error:
        logger.warning("call %s: could not list calls to find it: %s", call.id, error)
    return None


def _retry_delay(call: Call, error: AgoraError) -> float:
    # placement_attempts counts this try: 2, 4, 8 ... 60 s, unless Agora said how long.
    return retry_delay(error, retries=call.placement_attempts - 1, base=2, cap=60)


def _record_sent(sent: list[_Sent]) -> dict[str, "str | PlacementDeferred"]:
    """What Agora said about the batch, in one transaction (rows locked in id order)."""
    if not sent:
        return {}
    outcomes: dict[str, str | PlacementDeferred] = {}
    with transaction.atomic():
        now = timezone.now()
        locked = {
            call.pk: call
            for call in Call.objects.select_for_update()
            .filter(pk__in=[result.call.pk for result in sent])
            .order_by("pk")
        }
        changed, events = [], []
        for result in sent:
            key = str(result.call.pk)
            call = locked.get(result.call.pk)
            if call is None:
                outcomes[key] = "missing"
                continue
            if result.failed:
                call.last_error = result.failed[:1000]
                call_transition(call, CallStatus.FAILED, source=CallEvent.Source.API,
                                detail=result.failed)  # fmt: skip
                outcomes[key] = "failed"
                continue
            call.placement_lease_until = None
            call.updated_at = now
            changed.append(call)
            if result.deferred:
                call.last_error = result.deferred[:1000]
                events.append(CallEvent(call=call, source=CallEvent.Source.API,
                                        kind=CallEvent.Kind.ERROR,
                                        detail=result.deferred[:500]))  # fmt: skip
                outcomes[key] = PlacementDeferred(result.deferred, countdown=result.countdown)
                continue
            if call.agent_id is None:
                call.agent_id = result.agent_id
            call.last_error = ""
            call.last_update_at = now
            events.append(
                CallEvent(
                    call=call,
                    source=CallEvent.Source.API,
                    kind=CallEvent.Kind.SIGNAL,
                    detail=f"{result.how}: agent {result.agent_id}",
                    payload={"agent_id": result.agent_id},
                )
            )
            if call.hangup_requested_at and not call.is_terminal:
                _enqueue_hangup(call.id)
            outcomes[key] = result.how
        bulk_update_rows(
            changed,
            ["agent_id", "placement_lease_until", "last_error", "last_update_at", "updated_at"],
        )
        CallEvent.objects.bulk_create(events)
    _count_placed([locked[r.call.pk] for r in sent if outcomes.get(str(r.call.pk)) == r.how])
    return outcomes


def _count_placed(calls: list[Call]) -> None:
    """The metrics of calls Agora accepted: how many, and how long each waited from its booking
    (or the time it was booked for) to its request (queued to dialing)."""
    if not calls:
        return
    metrics.count("calls_placed", len(calls))
    metrics.observe(
        "call_placement_seconds",
        [
            (
                call.dialed_at - max(call.queued_at, call.scheduled_for or call.queued_at)
            ).total_seconds()
            for call in calls
            if call.dialed_at
        ],
    )


# -- hanging up -------------------------------------------------------------------------------


def call_hangup(
    *, call_id: uuid.UUID | str, source: str = CallEvent.Source.STAFF, reason: str = ""
) -> str:
    """Ask for a call to end (`reason` is kept in its event). Ended calls: nothing happens.
    Returns what was done."""
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call_id)
        if call.is_terminal:
            return "already ended"
        if call.hangup_requested_at is None:
            call.hangup_requested_at = timezone.now()
            call.save(update_fields=["hangup_requested_at", "updated_at"])
            detail = f"hang-up requested: {reason}" if reason else "hang-up requested"
            _event(call, source=source, kind=CallEvent.Kind.NOTE, detail=detail[:500])
        if call.agent_id is None:
            if call.status == CallStatus.QUEUED:
                call_transition(
                    call, CallStatus.CANCELED, source=source, detail="canceled before dialing"
                )
                return "canceled"
            return "will hang up as soon as it is placed"
        _enqueue_hangup(call.id)
        return "hanging up"


def _enqueue_hangup(call_id: uuid.UUID) -> None:
    from telephony.tasks import hangup_call

    hangup_call.delay_on_commit(str(call_id))


def call_hangup_remote(*, call_id: uuid.UUID | str) -> str:
    """Send the hang-up to Agora (no lock held), then record that the call ended."""
    call = Call.objects.get(pk=call_id)
    if call.is_terminal:
        return "already ended"
    if not call.agent_id:
        return "not placed yet"
    client = agora_client()
    if call.status == CallStatus.ANSWERED:
        # The last look at the conversation: once the agent stops, Agora forgets it.
        _snapshot_history(call)
    try:
        client.hangup_call(call.agent_id)
    except AgoraAPIError as error:
        if error.status_code != 404:
            raise
        # Agora no longer knows the call: ask what became of it.
        call_poll_one(call_id=call.id)
        return "already ended at Agora"
    call_apply_report(
        call_id=call.id,
        report=AgoraReport(state="HANGUP", reason="request", raw={"hangup": "requested"}),
        source=CallEvent.Source.API,
    )
    return "hung up"


# -- a supervisor on a live call -------------------------------------------------------------

SUPERVISOR_ACTIONS = ("speak", "think", "interrupt")


def call_supervise(
    *,
    call_id: uuid.UUID | str,
    action: str,
    who: str,
    source: str = CallEvent.Source.STAFF,
    text: str = "",
    priority: str = "INTERRUPT",
    interruptable: bool = True,
) -> str:
    """A supervisor acts on a live answered call through its agent: `speak` a sentence (TTS),
    `think` (an instruction the agent follows, as if the callee had said it) or `interrupt` the
    agent. Refused, with why, unless the call is answered; what was done is a call event naming
    `who`. Agora is asked with no lock held."""
    if action not in SUPERVISOR_ACTIONS:
        raise ValidationError(f"Unknown action {action!r}: one of {', '.join(SUPERVISOR_ACTIONS)}.")
    call = Call.objects.get(pk=call_id)
    if call.status != CallStatus.ANSWERED or not call.agent_id:
        raise ValidationError(
            f"Only a live answered call can be supervised; this call is "
            f"{call.get_status_display().lower()}."
        )
    if action != "interrupt" and not text.strip():
        raise ValidationError({"text": "Say what the agent should say or do."})
    client = agora_client()
    try:
        if action == "speak":
            client.speak(call.agent_id, text=text, priority=priority, interruptable=interruptable)
        elif action == "think":
            client.think(call.agent_id, text=text, interruptable=interruptable)
        else:
            client.interrupt_agent(call.agent_id)
    except ValueError as error:  # the client's own checks (length, priority)
        raise ValidationError(str(error)) from None
    except AgoraError as error:
        _event(call, source=source, kind=CallEvent.Kind.ERROR,
               detail=f"{who}: {action} failed: {error}"[:500])  # fmt: skip
        raise ValidationError(f"Agora refused the {action}: {error}") from None
    detail = f"{who}: {action}" + (f" {text!r}" if text and action != "interrupt" else "")
    _event(call, source=source, kind=CallEvent.Kind.NOTE, detail=detail[:500],
           payload={"action": action, "text": text, "priority": priority})  # fmt: skip
    return {"speak": "spoken", "think": "instructed", "interrupt": "interrupted"}[action]


# -- tracking without webhooks ----------------------------------------------------------------


def _due_by(now: datetime) -> datetime:
    """Polls run on beat's tick: a look due a moment after this tick is taken now rather than
    a whole tick late (a due time set one tick ahead lands a few ms after the next tick)."""
    return now + timedelta(seconds=settings.CALL_POLL_INTERVAL / 2)


def calls_due_for_poll(*, now: datetime):
    return Call.objects.filter(
        status__in=LIVE_STATUSES, agent_id__isnull=False, next_poll_at__lte=_due_by(now)
    ).order_by("next_poll_at")


def calls_poll(*, now: datetime | None = None, limit: int = 500) -> int:
    """Ask Agora about live calls with no news for a while. Returns how many were polled."""
    now = now or timezone.now()
    due = list(calls_due_for_poll(now=now)[:limit])
    if not due:
        return 0
    client = agora_client()
    infos: dict[str, Any] = {}
    if len(due) > settings.CALL_POLL_LIST_THRESHOLD:
        since = int(min(call.queued_at for call in due).timestamp()) - 60
        try:
            infos = {info.agent_id: info for info in client.iter_calls(from_time=since)}
        except AgoraError as error:
            logger.warning("polling: listing calls failed: %s", error)
    for call in due:
        info = infos.get(call.agent_id)
        try:
            # List items carry no end reason: an ended call is asked about on its own.
            if info is None or (info.state == "hangup" and not info.reason):
                info = client.get_call(call.agent_id)
        except AgoraError as error:
            logger.warning("polling call %s failed: %s", call.id, error)
            _poll_backoff(call.id, now=now, error=str(error))
            continue
        _apply_poll(call, info, now=now)
    return len(due)


def call_poll_one(*, call_id: uuid.UUID | str) -> Call:
    call = Call.objects.get(pk=call_id)
    info = agora_client().get_call(call.agent_id)
    _apply_poll(call, info, now=timezone.now())
    return Call.objects.get(pk=call_id)


def _apply_poll(call: Call, info, *, now: datetime) -> None:
    before = call.status
    updated = call_apply_report(
        call_id=call.id, report=report_from_call_info(info), source=CallEvent.Source.POLL
    )
    if updated.status == CallStatus.ANSWERED and snapshot_due(updated, now=now):
        _snapshot_history(updated, now=now)
    if updated.status == before and not updated.is_terminal:
        _poll_backoff(call.id, now=now)


def _poll_backoff(call_id, *, now: datetime, error: str = "") -> None:
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call_id)
        if call.is_terminal:
            return
        call.unchanged_polls += 1
        delay = min(
            settings.CALL_POLL_MAX_INTERVAL_SECONDS,
            settings.CALL_POLL_AFTER_SECONDS * 2 ** min(call.unchanged_polls, 10),
        )
        call.next_poll_at = now + timedelta(seconds=delay)
        if call.status == CallStatus.ANSWERED and call.snapshot_window_bound:
            # a snapshot rides on a poll: this one cannot wait for the poll's backoff
            soonest = now + timedelta(seconds=SNAPSHOT_FLOOR_SECONDS)
            call.next_poll_at = min(call.next_poll_at, max(call.next_snapshot_at, soonest))
        if error:
            call.last_error = error[:1000]
        call.save(update_fields=["unchanged_polls", "next_poll_at", "last_error", "updated_at"])


def snapshot_due(call: Call, *, now: datetime) -> bool:
    return call.next_snapshot_at is None or call.next_snapshot_at <= _due_by(now)


def _snapshot_history(call: Call, *, now: datetime | None = None) -> list[dict[str, str]] | None:
    """While the agent runs, keep the conversation so far (Agora keeps it only while running).
    Returns it, or None when Agora could not say."""
    try:
        history = agora_client().get_agent_history(call.agent_id)
    except AgoraError as error:
        logger.info("call %s: no history yet: %s", call.id, error)
        return None
    contents = [{"role": m.role, "content": m.content} for m in history.contents]
    snapshot_keep(call, contents, now=now or timezone.now())
    return contents


def snapshot_keep(call: Call, contents: list[dict[str, str]], *, now: datetime) -> None:
    """Merge a look at Agora's history into the transcript, and say when the next look is due:
    soon while new turns appear (but less often as the call ages), ever later while none do,
    never later than half of Agora's history window at the conversation's pace (the window
    holds only the newest messages: a later look must still overlap what is kept). Merged
    under the row's lock: Agora's end-of-call history may have stored more meanwhile."""
    low, high = settings.CALL_SNAPSHOT_MIN_SECONDS, settings.CALL_SNAPSHOT_MAX_SECONDS
    with transaction.atomic():
        locked = (
            Call.objects.select_for_update(of=("self",))
            .select_related("agent_profile")
            .only(*SNAPSHOT_FIELDS)
            .get(pk=call.pk)
        )
        kept = locked.transcript or []
        transcript = transcripts.merged(kept, contents)
        grew = len(transcript) > len(kept)
        age = (now - locked.answered_at).total_seconds() if locked.answered_at else 0.0
        gap = max(low, age) if grew else max(low, locked.snapshot_gap_seconds) * 2
        gap = min(gap, high)
        window_bound = False
        if transcript and age > 0:
            window = transcripts.history_window(
                locked.agent_profile.properties if locked.agent_profile else None
            )
            # seconds to say half the window at the pace so far (over at least MIN: a pace
            # read off a few first seconds says little)
            half_window = window / 2 / (len(transcript) / max(age, low))
            gap = min(gap, max(SNAPSHOT_FLOOR_SECONDS, half_window))
            # A poll backing off could come too late for the whole window (twice the half):
            # then the poll comes when the snapshot is due.
            window_bound = 2 * half_window < gap + settings.CALL_POLL_MAX_INTERVAL_SECONDS
        gap = int(gap)
        changes: dict[str, Any] = {"next_snapshot_at": now + timedelta(seconds=gap),
                                   "snapshot_gap_seconds": gap,
                                   "snapshot_window_bound": window_bound}  # fmt: skip
        if grew:
            changes["transcript"] = transcript
        Call.objects.filter(pk=call.pk).update(**changes)
    for name, value in changes.items():
        setattr(call, name, value)


def call_live_conversation(*, call_id: uuid.UUID | str) -> tuple[Call, list[dict[str, str]]]:
    """A call and its conversation so far, for pages that follow it live. While it is answered,
    Agora is asked at most once per CALL_LIVE_SNAPSHOT_SECONDS however many pages watch it
    (a shared cache holds the snapshot, and one page at a time refreshes it)."""
    call = Call.objects.get(pk=call_id)
    if call.status != CallStatus.ANSWERED or not call.agent_id:
        return call, list(call.transcript or [])
    key = f"call-live:{call.pk}"
    snapshot = cache.get(key)
    if snapshot is None and cache.add(f"{key}:refreshing", 1, settings.CALL_LIVE_SNAPSHOT_SECONDS):
        snapshot = _snapshot_history(call)
        if snapshot is not None:
            cache.set(key, snapshot, settings.CALL_LIVE_SNAPSHOT_SECONDS)
    return call, transcripts.merged(list(call.transcript or []), snapshot or [])


def calls_enforce_limits(*, now: datetime | None = None) -> int:
    """Hang up calls that ring too long or talk past the maximum duration."""
    now = now or timezone.now()
    ring_limit = now - timedelta(seconds=settings.CALL_MAX_RING_SECONDS)
    talk_limit = now - timedelta(seconds=settings.CALL_MAX_DURATION_SECONDS)
    overdue = list(
        Call.objects.filter(
            status__in=[CallStatus.DIALING, CallStatus.RINGING],
            dialed_at__lt=ring_limit,
            hangup_requested_at__isnull=True,
        ).values_list("id", flat=True)
    ) + list(
        Call.objects.filter(
            status=CallStatus.ANSWERED,
            answered_at__lt=talk_limit,
            hangup_requested_at__isnull=True,
        ).values_list("id", flat=True)
    )
    for call_id in overdue:
        call_hangup(call_id=call_id, source=CallEvent.Source.SYSTEM)
    return len(overdue)


def calls_recover_stuck(*, now: datetime | None = None) -> int:
    """Re-enqueue placement of calls whose worker vanished (placement is safe to repeat)."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.CALL_PLACEMENT_LEASE_SECONDS)
    stuck = list(
        Call.objects.filter(
            status__in=[CallStatus.QUEUED, CallStatus.DIALING],
            agent_id__isnull=True,
            last_update_at__lt=stale,
        )
        .exclude(placement_lease_until__gt=now)
        .exclude(scheduled_for__gt=now)[:500]
    )
    settle_deadline = now - timedelta(seconds=settings.CALL_END_SETTLE_SECONDS + 30)
    for call_id in Call.objects.filter(
        end_pending_since__lt=settle_deadline, status__in=LIVE_STATUSES | {CallStatus.QUEUED}
    ).values_list("id", flat=True)[:500]:
        call_finalize_end(call_id=call_id)
    for call in stuck:
        Call.objects.filter(pk=call.pk).update(last_update_at=now)
        _event(call, source=CallEvent.Source.SYSTEM, kind=CallEvent.Kind.NOTE,
               detail="placement re-enqueued: no progress")  # fmt: skip
        _enqueue_placements([call.id])
    return len(stuck)


# -- after the call ---------------------------------------------------------------------------


def call_fetch_agent_data(*, call_id: uuid.UUID | str) -> Call:
    """Keep the transcript (if Agora still has it) and the turn metrics of an ended call."""
    call = Call.objects.get(pk=call_id)
    if not call.agent_id:
        return call
    client = agora_client()
    transcript = None
    try:
        history = client.get_agent_history(call.agent_id)
        transcript = [{"role": m.role, "content": m.content} for m in history.contents]
    except AgoraError:
        pass  # history exists only while the agent runs; the 103 webhook or polls kept it
    metrics: dict[str, Any] = {}
    try:
        turns = list(client.iter_agent_turns(call.agent_id))
    except AgoraError as error:
        logger.info("call %s: no turns: %s", call.id, error)
        turns = []
    if turns:
        latencies = [turn.e2e_latency_ms for turn in turns if turn.e2e_latency_ms is not None]
        metrics = {
            "turns": len(turns),
            "avg_e2e_latency_ms": round(sum(latencies) / len(latencies)) if latencies else None,
            "max_e2e_latency_ms": max(latencies) if latencies else None,
            "per_turn": [
                {
                    "turn_id": turn.turn_id,
                    "type": turn.start_type,
                    "e2e_latency_ms": turn.e2e_latency_ms,
                    "segments": turn.segmented_latency_ms,
                }
                for turn in turns
            ],
        }
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if transcript is not None:
            locked.transcript_final_at = timezone.now()
            locked.transcript = transcripts.merged(locked.transcript or [], transcript)
        if metrics:
            locked.turn_metrics = metrics
        locked.agent_data_fetched_at = timezone.now()
        locked.save()
    return locked


def call_retry(
    *, call_id: uuid.UUID | str, source: str = CallEvent.Source.STAFF, requested_by: str = ""
) -> Call:
    """A new call with the same callee, caller ID, agent and variables as an ended one."""
    original = Call.objects.select_related("caller_id", "agent_profile").get(pk=call_id)
    if original.status not in UNSUCCESSFUL_ENDINGS:
        raise ValidationError(
            f"Only a call that failed, was not answered, was busy, reached voicemail or was "
            f"canceled can be "
            f"retried; this one is {original.get_status_display().lower()}."
        )
    if original.direction != Call.Direction.OUTBOUND:
        raise ValidationError("Only outbound calls can be retried.")
    if original.caller_id is None or original.agent_profile is None:
        raise ValidationError("The call's caller ID or agent profile no longer exists.")
    if Call.objects.filter(pk=original.pk, campaign_attempt__isnull=False).exists():
        # A single call would escape the campaign's window, status and attempt count.
        raise ValidationError(
            "A campaign call is retried by its campaign (its retry policy), not on its own."
        )
    return call_create(
        to_number=original.to_number,
        caller_id=original.caller_id,
        agent_profile=original.agent_profile,
        variables=original.variables,
        labels={**original.labels, "retry_of": str(original.id)},
        callee_timezone=original.callee_timezone,
        callee_region=original.callee_region,
        voicemail_policy=original.voicemail_policy,
        voicemail_message=original.voicemail_message,
        source=source,
        note=f"retry of call {original.id}",
        requested_by=requested_by,
    )
