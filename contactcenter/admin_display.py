"""How the admin and the operations dashboard show statuses, durations and campaign progress.

- One status badge for everything that has a status (calls, campaigns, campaign contacts,
  numbers' sync with Agora, Agora's webhook events, CSV imports):
  ``<span class="status-badge call-status call-status-live">Ringing</span>``. Its look and its
  colour are CSS in ``templates/admin/base_site.html``, picked by the kind's class and the
  status's class; a script that redraws a badge sets the same classes.
- Durations as m:ss, or h:mm:ss from an hour.
- A campaign's progress bar: ``progress_display`` gives what
  ``templates/admin/campaigns/campaign/progress.html`` draws (its colours are CSS too).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from django.utils import timezone
from django.utils.html import format_html

from campaigns.models import CampaignContact
from telephony.states import LIVE_STATUSES, CallStatus

CS = CampaignContact.Status


class BadgeKind(StrEnum):
    """What a badge shows the status of; also its CSS class (tests and scripts select on it)."""

    CALL = "call-status"
    CAMPAIGN = "campaign-status"
    CAMPAIGN_CONTACT = "contact-status"
    NUMBER_SYNC = "sync-state"
    WEBHOOK_EVENT = "webhook-event-status"
    IMPORT = "import-status"


# Call statuses by what they mean to staff: waiting, live, success, unreached, error, withdrawn.
CALL_STATUS_GROUPS: dict[str, str] = {
    CallStatus.QUEUED: "queued",
    **dict.fromkeys(LIVE_STATUSES, "live"),
    CallStatus.COMPLETED: "completed",
    CallStatus.VOICEMAIL: "voicemail",
    CallStatus.NO_ANSWER: "unreached",
    CallStatus.BUSY: "unreached",
    CallStatus.FAILED: "failed",
    CallStatus.CANCELED: "canceled",
}


def status_badge_classes(kind: BadgeKind, key: str) -> str:
    return f"status-badge {kind} {kind}-{key}"


def status_badge(kind: BadgeKind, key: str, label: str) -> str:
    """The badge of one status (`key`: the status, or a call's status group), safe HTML."""
    return format_html(
        '<span class="{}"{}>{}</span>',
        status_badge_classes(kind, key),
        # The campaign progress script finds the badges it redraws by this attribute.
        " data-badge" if kind == BadgeKind.CAMPAIGN else "",
        label,
    )


def call_status_badge(status: str, label: str) -> str:
    return status_badge(BadgeKind.CALL, CALL_STATUS_GROUPS.get(status, "unknown"), label)


# What a page shows for "not known (yet)" (the admin site's empty value too): never "None".
NOT_KNOWN = "—"


def time_with_utc(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A moment in the staff member's time zone (the current one, see staff_time.py), with its
    UTC time on hover: `<time datetime=... title="... UTC">`."""
    if value is None:
        return NOT_KNOWN
    local = timezone.localtime(value)
    utc = value.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{} UTC">{} {}</time>',
        utc.isoformat(),
        f"{utc:%Y-%m-%d %H:%M:%S}",
        local.strftime(fmt),
        local.tzname(),
    )


def format_duration(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# -- a campaign's progress bar ------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One count under a progress bar: a contact status or a call status."""

    key: str
    label: str
    source: str  # "contact" (by_contact_status) or "call" (calls_by_status)


OUTCOMES = (
    Outcome(CS.COMPLETED, "completed", "contact"),
    Outcome(CallStatus.VOICEMAIL, "voicemail", "call"),
    Outcome(CallStatus.NO_ANSWER, "no answer", "call"),
    Outcome(CallStatus.BUSY, "busy", "call"),
    Outcome(CallStatus.FAILED, "failed", "call"),
    Outcome(CS.EXHAUSTED, "exhausted", "contact"),
    Outcome(CS.DO_NOT_CALL, "do-not-call", "contact"),
    Outcome(CS.NO_CONSENT, "no consent", "contact"),
    Outcome(CS.INVALID, "invalid", "contact"),
    Outcome(CS.CANCELLED, "cancelled", "contact"),
)
# The bar's segments: contacts that are done, by how they ended.
BAR_SEGMENTS = (
    CS.COMPLETED, CS.EXHAUSTED, CS.DO_NOT_CALL, CS.NO_CONSENT, CS.INVALID, CS.CANCELLED,
)  # fmt: skip


def _count(progress: dict, source: str, key: str) -> int:
    counts = progress["calls_by_status"] if source == "call" else progress["by_contact_status"]
    return counts.get(key, 0)


def progress_display(progress: dict) -> dict:
    """What the progress include renders (the polling script recomputes the same in place)."""
    contacts = progress["contacts"]
    labels = dict(CS.choices)

    def width(key: str) -> str:
        return f"{100 * _count(progress, 'contact', key) / contacts if contacts else 0:.2f}"

    return {
        **progress,
        "segments": [
            {
                "key": key,
                "label": labels[key],
                "count": _count(progress, "contact", key),
                "width": width(key),
            }
            for key in BAR_SEGMENTS
        ],
        "outcomes": [
            {
                "key": outcome.key,
                "label": outcome.label,
                "source": outcome.source,
                "count": _count(progress, outcome.source, outcome.key),
            }
            for outcome in OUTCOMES
        ],
    }
