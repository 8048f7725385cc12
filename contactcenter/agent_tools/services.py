"""What each in-call tool does, for one call: the effects are the product's own services
(callbacks, do-not-call, hang-up), so the agent goes through the same rules as staff and CRMs.

Every tool call is a call event (source `agent`) with its arguments and its result or error. A
repeated tool call (same call, same tool, same arguments: an LLM retrying after a timeout)
answers the first result without acting again.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.utils import timezone

from campaigns.models import CampaignContact, DoNotCall
from campaigns.services.callbacks import callback_schedule
from campaigns.services.dnc import dnc_add
from campaigns.windows import NoTimeZone, contact_zones
from telephony import tools
from telephony.models import Call, CallEvent
from telephony.outcomes import DEFAULT_OUTCOMES
from telephony.services.calls import call_hangup
from telephony.services.voicemail import call_voicemail_detected

# A recorded outcome's free-form fields, serialised, at most this long.
MAX_OUTCOME_FIELDS_BYTES = 4096
MAX_TEXT = 300


class ToolFailure(Exception):
    """The tool could not do it; the message is for the LLM (and the call's timeline)."""


def _text(arguments: dict, name: str) -> str:
    value = arguments.get(name, "")
    if not isinstance(value, str):
        raise ValidationError(f"'{name}' must be text.")
    return value.strip()[:MAX_TEXT]


def _callee(call: Call) -> str:
    return call.to_number if call.direction == Call.Direction.OUTBOUND else call.from_number


def _campaign_entry(call: Call) -> CampaignContact | None:
    try:
        return call.campaign_attempt.campaign_contact
    except ObjectDoesNotExist:
        return None


def _end_call(call: Call, arguments: dict, now: datetime) -> dict:
    reason = _text(arguments, "reason") or "the agent ended the conversation"
    if reason.lower() in ("voicemail", "answering machine"):
        return _voicemail_detected(call, arguments, now)
    done = call_hangup(call_id=call.pk, source=CallEvent.Source.AGENT, reason=reason)
    return {"ok": True, "result": done}


def _voicemail_detected(call: Call, arguments: dict, now: datetime) -> dict:
    """The call's voicemail policy decides: hang up, leave its message, or carry on."""
    done = call_voicemail_detected(call_id=call.pk, by="agent", source=CallEvent.Source.AGENT)
    return {"ok": True, "result": done}


def _schedule_callback(call: Call, arguments: dict, now: datetime) -> dict:
    entry = _campaign_entry(call)
    if entry is None:
        raise ValidationError(
            "This call is not part of a campaign, so no callback can be scheduled; tell the "
            "person someone will get back to them."
        )
    scheduled = callback_schedule(
        entry_id=entry.pk, when=arguments.get("when", ""), note=_text(arguments, "note"), now=now
    )
    local = scheduled.at.astimezone(scheduled.zone)
    return {
        "ok": True,
        "callback_at": local.isoformat(),
        "time_zone": scheduled.zone.key,
        "moved_into_calling_hours": scheduled.moved,
        "say": scheduled.describe(),
    }


def _opt_out(call: Call, arguments: dict, now: datetime) -> dict:
    note = _text(arguments, "note") or "asked not to be called again"
    dnc_add(phone=_callee(call), reason=note, source=DoNotCall.Source.CALL, call=call)
    return {
        "ok": True,
        "say": "The number will not be called again. Apologise, say goodbye and end the call.",
    }


def _outcomes_for(call: Call) -> list[str]:
    entry = _campaign_entry(call)
    if entry:
        return list(entry.campaign.outcomes)
    return list((call.agent_profile.outcomes if call.agent_profile else None) or DEFAULT_OUTCOMES)


def _record_outcome(call: Call, arguments: dict, now: datetime) -> dict:
    outcome = _text(arguments, "outcome")
    allowed = _outcomes_for(call)
    if outcome not in allowed:
        raise ValidationError(
            f"'{outcome}' is not an outcome here; use one of: {', '.join(allowed)}."
        )
    fields = arguments.get("fields") or {}
    if not isinstance(fields, dict):
        raise ValidationError("'fields' must be an object of names and values.")
    size = len(json.dumps(fields, ensure_ascii=False).encode())
    if size > MAX_OUTCOME_FIELDS_BYTES:
        raise ValidationError(
            f"'fields' is {size} bytes; keep it under {MAX_OUTCOME_FIELDS_BYTES}."
        )
    call.outcome, call.outcome_fields = outcome, fields
    call.save(update_fields=["outcome", "outcome_fields", "updated_at"])
    return {"ok": True, "outcome": outcome}


def _get_contact(call: Call, arguments: dict, now: datetime) -> dict:
    entry = _campaign_entry(call)
    phone = _callee(call)
    if entry is None:
        found: dict[str, Any] = {"phone": phone, "variables": call.variables,
                                 "outcomes": _outcomes_for(call)}  # fmt: skip
        zone_name = call.callee_timezone
    else:
        contact = entry.contact
        found = {
            "phone": contact.phone,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "external_id": contact.external_id,
            "variables": contact.variables,
            "campaign": entry.campaign.name,
            "outcomes": _outcomes_for(call),
        }
        zone_name = contact.timezone
    try:
        zone = contact_zones(phone, zone_name)[0]
        found["time_zone"] = zone.key
        found["local_time"] = now.astimezone(zone).strftime("%A %Y-%m-%d %H:%M")
    except NoTimeZone:
        found["time_zone"] = None
    return found


TOOLS: dict[str, Callable[[Call, dict, datetime], dict]] = {
    tools.END_CALL: _end_call,
    tools.VOICEMAIL_DETECTED: _voicemail_detected,
    tools.SCHEDULE_CALLBACK: _schedule_callback,
    tools.OPT_OUT: _opt_out,
    tools.RECORD_OUTCOME: _record_outcome,
    tools.GET_CONTACT: _get_contact,
}


def _key(tool: str, arguments: dict) -> str:
    canonical = json.dumps([tool, arguments], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def tool_call(*, call: Call, tool: str, arguments: dict, now: datetime | None = None) -> dict:
    """Run `tool` for `call` once; raises ToolFailure with a message for the LLM."""
    now = now or timezone.now()
    if tool not in TOOLS:
        raise ToolFailure(f"There is no tool named {tool!r}.")
    key = _key(tool, arguments)
    with transaction.atomic():
        # One tool call of a call at a time: a repeat waits here, then finds the first one.
        locked = Call.objects.select_for_update().get(pk=call.pk)
        earlier = CallEvent.objects.filter(
            call=locked, kind=CallEvent.Kind.TOOL, payload__key=key, payload__repeated=False
        ).first()
        repeated = earlier is not None
        if repeated:
            error, result = earlier.payload.get("error", ""), earlier.payload.get("result")
        else:
            error, result = "", None
            try:
                with transaction.atomic():  # a refused tool leaves nothing half done
                    result = TOOLS[tool](locked, arguments, now)
            except ValidationError as refused:
                error = " ".join(refused.messages)
        said = error or _summary(result)
        CallEvent.objects.create(
            call=locked,
            source=CallEvent.Source.AGENT,
            kind=CallEvent.Kind.TOOL,
            detail=(f"{tool} (repeated: answered as before): " if repeated else f"{tool}: ")
            + said[:400],
            payload={"key": key, "tool": tool, "arguments": arguments, "repeated": repeated}
            | ({"error": error} if error else {"result": result}),
            created_at=now,
        )
    if error:
        raise ToolFailure(error)
    return result


def _summary(result: dict | None) -> str:
    if not result:
        return "done"
    return str(result.get("say") or result.get("result") or result.get("outcome") or "done")
