"""The compliance log: every outbound call booked in a date range, who it was to, when it was
dialed (in UTC and the callee's local time), for which campaign and contact, the contact's
consent as on record (given when, where, the evidence; revoked when), and the rules it was
checked against when booked (`Call.rules_applied`: its region, that day's hours, holidays,
call limits, overrides), with the campaign's own window and the rule that stopped it, if any.

Read in chunks, one row per call, for a streamed CSV (the admin's Compliance log). Its second
part: the single calls the rules refused when asked for (telephony's RefusedCall), which never
became calls."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError

from campaigns.models import weekday_words
from campaigns.windows import NoTimeZone, contact_zones
from telephony.models import Call, RefusedCall
from telephony.rules import RULE_LABELS

MAX_DAYS = 366  # one export at most: a year of calls
EDGE = timedelta(minutes=5)  # queued_at is set when a call is built, created_at when stored

COLUMNS = [
    ("call_id", "call id"),
    ("to_number", "number called"),
    ("region", "callee region"),
    ("queued_at", "booked at (UTC)"),
    ("dialed_at", "dialed at (UTC)"),
    ("local_time", "callee's local time when booked (or scheduled for)"),
    ("hours_that_day", "hours allowed that day (guard and region)"),
    ("regional_rules", "regional rules applied"),
    ("public_holidays", "public holidays"),
    ("do_not_call", "do-not-call list"),
    ("call_limits", "call limits (24 h / 7 d)"),
    ("calls_within_24h", "other calls to the number within 24 h"),
    ("campaign", "campaign"),
    ("campaign_window", "campaign window"),
    ("contact_id", "contact id"),
    ("external_id", "contact external id"),
    ("consent_required", "campaign requires consent"),
    ("consent", "consent on record"),
    ("consent_at", "consent given at (UTC)"),
    ("consent_source", "consent source"),
    ("consent_evidence", "consent evidence"),
    ("consent_revoked_at", "consent revoked at (UTC)"),
    ("status", "call status"),
    ("refused_by_rule", "stopped right before dialing by"),
    ("overridden", "rules overridden"),
    ("overridden_by", "overridden by"),
    ("override_reason", "override reason"),
]


REFUSAL_COLUMNS = [
    ("refused_at", "refused at (UTC)"),
    ("to_number", "number asked for"),
    ("region", "callee region given"),
    ("timezone", "callee time zone given"),
    ("scheduled_for", "asked for (UTC, if booked ahead)"),
    ("rule", "refused by"),
    ("message", "reason"),
    ("allowed_at", "allowed from (UTC)"),
    ("source", "asked through"),
    ("requested_by", "asked by"),
    ("caller_id", "caller ID"),
    ("agent", "agent profile"),
]


def compliance_period(first: date | None, last: date | None) -> tuple[datetime, datetime]:
    """[start, end) in UTC for the days first..last (UTC dates); ValidationError names a bad
    range."""
    if first is None or last is None:
        raise ValidationError("Give the first and the last day.")
    if last < first:
        raise ValidationError({"last_day": "The last day cannot come before the first."})
    if (last - first).days >= MAX_DAYS:
        raise ValidationError({"last_day": f"At most {MAX_DAYS} days in one export."})
    start = datetime.combine(first, time(0), tzinfo=UTC)
    return start, datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)


def compliance_rows(start: datetime, end: datetime) -> Iterator[list[str]]:
    """The log's rows (in COLUMNS' order), calls booked in [start, end), oldest first."""
    # created_at (indexed, written in the same statement as queued_at) finds the rows;
    # queued_at, what the log shows, decides at the edges.
    calls = (
        Call.objects.filter(direction=Call.Direction.OUTBOUND, queued_at__gte=start,
                            queued_at__lt=end, created_at__gte=start - EDGE,
                            created_at__lt=end + EDGE)
        .select_related("campaign_attempt__campaign", "campaign_attempt__campaign_contact__contact",
                        "rules_overridden_by")
        .order_by("queued_at", "id")
    )  # fmt: skip
    for call in calls.iterator(chunk_size=2000):
        applied = call.rules_applied or {}
        attempt = getattr(call, "campaign_attempt", None)
        campaign = attempt.campaign if attempt else None
        contact = attempt.campaign_contact.contact if attempt else None
        limits = applied.get("limits") or {}
        yield [
            str(call.id),
            call.to_number,
            applied.get("region", call.callee_region),
            _utc(call.queued_at),
            _utc(call.dialed_at),
            applied.get("local_time") or _local(call),
            applied.get("hours_that_day", ""),
            "; ".join(applied.get("regional_rules", [])),
            applied.get("public_holidays", ""),
            applied.get("do_not_call", ""),
            f"{limits.get('per_24h', '')} / {limits.get('per_7d', '')}" if limits else "",
            str(applied.get("calls_within_24h", "")),
            campaign.name if campaign else "",
            _campaign_window(campaign) if campaign else "",
            str(contact.pk) if contact else "",
            contact.external_id if contact else "",
            ("yes" if campaign.require_consent else "no") if campaign else "",
            ("yes" if contact.consent else "no") if contact else "",
            _utc(contact.consent_at) if contact else "",
            contact.consent_source if contact else "",
            contact.consent_evidence if contact else "",
            _utc(contact.consent_revoked_at) if contact else "",
            call.status,
            call.refused_by_rule,
            ", ".join(applied.get("overridden", [])),
            call.rules_overridden_by.get_username() if call.rules_overridden_by else "",
            call.rules_override_reason,
        ]


def refused_call_rows(start: datetime, end: datetime) -> Iterator[list[str]]:
    """The refused single calls' rows (in REFUSAL_COLUMNS' order), refused in [start, end),
    oldest first."""
    refused = RefusedCall.objects.filter(refused_at__gte=start, refused_at__lt=end).order_by(
        "refused_at", "id"
    )
    for entry in refused.iterator(chunk_size=2000):
        yield [
            _utc(entry.refused_at),
            entry.to_number,
            entry.callee_region,
            entry.callee_timezone,
            _utc(entry.scheduled_for),
            RULE_LABELS.get(entry.rule, entry.rule),
            entry.message,
            _utc(entry.allowed_at),
            entry.get_source_display(),
            entry.requested_by,
            entry.caller_id,
            entry.agent_profile,
        ]


def _utc(at: datetime | None) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S}" if at else ""


def _local(call: Call) -> str:
    """Calls booked before the rules were kept on them: their local time, worked out now."""
    try:
        zone = contact_zones(call.to_number, call.callee_timezone)[0]
    except NoTimeZone:
        return ""
    return f"{call.queued_at.astimezone(zone):%Y-%m-%d %a %H:%M} {zone.key}"


def _campaign_window(campaign) -> str:
    holidays = "; calls on public holidays" if campaign.call_on_holidays else ""
    return (
        f"{weekday_words(campaign.weekdays)} {campaign.window_start:%H:%M}-"
        f"{campaign.window_end:%H:%M}{holidays}"
    )
