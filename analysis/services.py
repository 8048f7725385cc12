"""Analysing an ended call: which disposition, a summary, success, and what follows from it.

The call's plan (analysis.plan) is its campaign's, or its agent profile's for a single call.
An outcome the agent recorded in the call (`record_outcome`) wins over the analyzer's
disposition, and fields it recorded that hold under the plan win over the analyzer's; the
analysis fills the rest. The extracted fields are checked against the plan's schema. Effects
go through the same services as the in-call tools: a callback asked for with a time is
scheduled (unless one already is), an opt-out puts the number on the do-not-call list with the
call as its source. Idempotent: analysing again replaces the analysis and repeats no effect.
"""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.utils import timezone

from analysis.builtin import analyze
from analysis.llm import AnalyzerError, LlmAnalyzer, LlmConfig
from analysis.models import CallAnalysis
from analysis.plan import Plan
from analysis.signals import call_analyzed
from campaigns.models import CampaignContact, DoNotCall
from campaigns.services.callbacks import callback_schedule
from campaigns.services.dnc import dnc_add, dnc_contains
from campaigns.windows import NoTimeZone, contact_zones
from contactcenter import metrics
from telephony.analysis_fields import check_fields
from telephony.models import AgentProfile, Call, CallEvent

# While an ended call's transcript may still grow, its analysis looks again this often.
TRANSCRIPT_RECHECK_SECONDS = 2.0

# A contact with one of these is not called again by the retry timer (a wrong number is
# invalid; an opt-out is do-not-call by its own effect).
FINAL_DISPOSITIONS = {
    "interested": CampaignContact.Status.COMPLETED,
    "not_interested": CampaignContact.Status.COMPLETED,
    "wrong_number": CampaignContact.Status.INVALID,
}


def _entry(call: Call) -> CampaignContact | None:
    try:
        return call.campaign_attempt.campaign_contact
    except ObjectDoesNotExist:
        return None


def _zone(call: Call, entry: CampaignContact | None) -> ZoneInfo | None:
    explicit = entry.contact.timezone if entry else call.callee_timezone
    try:
        return contact_zones(call.to_number, explicit)[0]
    except NoTimeZone:
        return None


def plan_of(call: Call, entry: CampaignContact | None) -> Plan:
    return Plan.of_campaign(entry.campaign) if entry else Plan.of_agent(call.agent_profile)


def call_analyze(*, call_id: uuid.UUID | str, now: datetime | None = None) -> CallAnalysis:
    """Analyse an ended call (again); returns its analysis."""
    now = now or timezone.now()
    call = Call.objects.select_related("campaign_attempt__campaign_contact__contact",
                                       "campaign_attempt__campaign", "agent_profile").get(
        pk=call_id
    )  # fmt: skip
    if not call.is_terminal:
        raise ValidationError("Only an ended call is analysed.")
    entry = _entry(call)
    plan = plan_of(call, entry)
    started = time.monotonic()
    question = {
        "dispositions": plan.dispositions,
        "success_dispositions": plan.success_dispositions,
        "fields_schema": plan.fields_schema,
        "success_criterion": plan.success_criterion,
        "zone": _zone(call, entry),
        "started_at": call.answered_at or call.queued_at,
    }
    result, usage, not_llm = None, None, ""
    if (plan.analyzer or settings.ANALYSIS_ANALYZER) == "llm":
        result, usage, not_llm = _ask_llm(call, entry, plan, question, now=now)
    if result is None:
        result = analyze(call.transcript, **question)
        if not_llm:
            result.reasons.insert(0, f"the LLM was not used: {not_llm}")
    latency_ms = int((time.monotonic() - started) * 1000)
    source = "analyzer"
    if call.outcome:
        result.disposition, source = call.outcome, "agent"
        if not plan.success_criterion or result.analyzer != "llm":
            result.success = call.outcome in plan.success_dispositions
    fields = _fields(plan, result, call.outcome_fields or {})
    effects = _apply_effects(call, entry, result, now=now)
    with transaction.atomic():
        analysis, _ = CallAnalysis.objects.update_or_create(
            call=call,
            defaults={
                "disposition": result.disposition,
                "disposition_source": source,
                "summary": result.summary,
                "fields": fields,
                "success": result.success,
                "success_reason": result.success_reason[:300],
                "opt_out": result.opt_out,
                "callback_at": result.callback_at,
                "reasons": result.reasons,
                "analyzer": result.analyzer,
                "latency_ms": latency_ms,
                "token_usage": usage,
                "effects": effects,
                "analyzed_at": now,
            },
        )
        call_id, analyzer = str(call.pk), result.analyzer
        transaction.on_commit(lambda: call_analyzed.send(sender=CallAnalysis, call_id=call_id))
        transaction.on_commit(lambda: metrics.count("analyses", analyzer=analyzer))
    return analysis


def transcript_wait_seconds(*, call_id: uuid.UUID | str, now: datetime | None = None) -> float:
    """How much longer an ended call's analysis should wait for its transcript; 0 to go now.

    Agora sends the whole conversation once the agent leaves (its end-of-call history), which
    may be processed after the hang-up that queued the analysis. Go once it has arrived; once
    the call's data was fetched after the end and no notifications come for this call (polling
    only: nothing more will arrive); or after CALL_ANALYSIS_TRANSCRIPT_WAIT_SECONDS with what
    the snapshots kept."""
    now = now or timezone.now()
    call = Call.objects.only(
        "status", "transcript_final_at", "agent_data_fetched_at", "ended_at", "updated_at"
    ).get(pk=call_id)
    if not call.is_terminal or call.transcript_final_at:
        return 0.0
    if (
        call.agent_data_fetched_at
        and not call.events.filter(source=CallEvent.Source.WEBHOOK).exists()
    ):
        return 0.0
    deadline = (call.ended_at or call.updated_at) + timedelta(
        seconds=settings.CALL_ANALYSIS_TRANSCRIPT_WAIT_SECONDS
    )
    left = (deadline - now).total_seconds()
    return min(left, TRANSCRIPT_RECHECK_SECONDS) if left > 0 else 0.0


def call_analysis_queue(*, call_id: uuid.UUID | str) -> None:
    """Analyse an ended call again on the analysis queue (the API's re-run: an LLM may take a
    while), once the caller's transaction has committed."""
    from analysis.tasks import analyze_call

    call = Call.objects.only("status").get(pk=call_id)
    if not call.is_terminal:
        raise ValidationError("Only an ended call is analysed.")
    transaction.on_commit(lambda: analyze_call.apply_async((str(call_id),)))


@contextmanager
def use_llm_transport(transport: httpx.BaseTransport) -> Iterator[None]:
    """Send the LLM analyzer's requests through `transport` (tests: the simulator's)."""
    global _llm_transport
    previous, _llm_transport = _llm_transport, transport
    try:
        yield
    finally:
        _llm_transport = previous


_llm_transport: httpx.BaseTransport | None = None


def llm_config(profile: AgentProfile | None = None) -> LlmConfig | None:
    """The dedicated setting, else the agent profile's own LLM, else the simulator's stand-in."""
    timeout = settings.ANALYSIS_LLM_TIMEOUT_SECONDS
    if settings.ANALYSIS_LLM_URL:
        return LlmConfig(settings.ANALYSIS_LLM_URL, settings.ANALYSIS_LLM_MODEL,
                         settings.ANALYSIS_LLM_API_KEY, timeout=timeout)  # fmt: skip
    llm = ((profile.properties or {}) if profile else {}).get("llm") or {}
    model = (llm.get("params") or {}).get("model") if isinstance(llm, dict) else None
    if isinstance(llm, dict) and llm.get("url") and llm.get("api_key") and model:
        return LlmConfig(llm["url"], model, llm["api_key"], timeout=timeout)
    if settings.AGORA_SIMULATOR:
        return LlmConfig(f"{settings.AGORA_API_BASE_URL}/llm/v1", "simulated", "simulated",
                         timeout=timeout)  # fmt: skip
    return None


def llm_client(config: LlmConfig) -> httpx.Client:
    return httpx.Client(timeout=config.timeout, transport=_llm_transport)


def _ask_llm(call: Call, entry, plan: Plan, question: dict, *, now: datetime):
    """(the LLM's analysis, its token usage, why it was not used)."""
    config = llm_config(call.agent_profile)
    if config is None:
        return None, None, "no LLM is configured (ANALYSIS_LLM_URL, or the agent's llm)"
    if entry is not None:
        budget = plan.llm_analyses_per_hour
        budget = settings.ANALYSIS_LLM_PER_HOUR if budget is None else budget
        used = CallAnalysis.objects.filter(
            analyzer="llm",
            call__campaign_attempt__campaign_id=entry.campaign_id,
            analyzed_at__gt=now - timedelta(hours=1),
        ).count()
        if used >= budget:
            return None, None, f"the campaign's budget is {budget} LLM analyses an hour"
    try:
        with llm_client(config) as client:
            result, usage = LlmAnalyzer(config, client=client).analyze(call.transcript, **question)
    except AnalyzerError as error:
        return None, None, str(error)
    return result, usage, ""


def _fields(plan: Plan, result, recorded: dict) -> dict:
    """The plan's fields as the analyzer read them (checked: a value that does not hold is
    null, and said in the reasons), where the agent recorded one that holds, the agent's; and
    what else the agent recorded, as it recorded it."""
    fields, problems = check_fields(plan.fields_schema, result.fields)
    result.reasons += [f"field left empty: {problem}" for problem in problems]
    heard, _ = check_fields(
        plan.fields_schema, {name: value for name, value in recorded.items() if name in fields}
    )
    others = {name: value for name, value in recorded.items() if name not in fields}
    return others | fields | {name: value for name, value in heard.items() if value is not None}


def _callback_wanted(entry, result, *, now: datetime) -> bool:
    """A time was asked for, and no callback is already waiting (the agent's tool, staff)."""
    return (
        result.callback_at is not None
        and result.callback_at > now
        and entry is not None
        and entry.callback_at is None
        and entry.status != CampaignContact.Status.CALLBACK_SCHEDULED
    )


def _apply_effects(call: Call, entry, result, *, now: datetime) -> list[str]:
    effects: list[str] = []
    if result.opt_out or result.disposition == "do_not_call":
        if not dnc_contains(call.to_number):
            words = next((r for r in result.reasons if r.startswith("asked not")), "")
            dnc_add(phone=call.to_number, reason=words or "opted out in the call",
                    source=DoNotCall.Source.CALL, call=call)  # fmt: skip
            effects.append("added to the do-not-call list")
    elif _callback_wanted(entry, result, now=now):
        try:
            scheduled = callback_schedule(
                entry_id=entry.pk, when=result.callback_at, note="from the call's analysis",
                now=now,
            )  # fmt: skip
        except ValidationError as refused:
            effects.append(f"callback not scheduled: {' '.join(refused.messages)}")
        else:
            effects.append(scheduled.describe())
    if entry is not None and result.disposition in FINAL_DISPOSITIONS:
        effects += _finish_if_waiting_for_a_retry(entry, call, result.disposition)
    return effects


def _finish_if_waiting_for_a_retry(entry, call: Call, disposition: str) -> list[str]:
    """A conversation whose disposition is final ends the contact's retries (a call that, say,
    failed after the callee said no would otherwise be retried)."""
    with transaction.atomic():
        locked = CampaignContact.objects.select_for_update().get(pk=entry.pk)
        waiting = locked.status == CampaignContact.Status.RETRY_SCHEDULED
        if not waiting or locked.last_call_id != call.pk:
            return []
        locked.status = FINAL_DISPOSITIONS[disposition]
        locked.note = f"not retried: the conversation's disposition is {disposition}"
        locked.save(update_fields=["status", "note", "updated_at"])
    return [f"retries ended: the disposition {disposition} is final"]
