"""The figures of the staff console's operations dashboard.

`dashboard_snapshot` gathers every figure the dashboard shows in a fixed number of queries,
whatever the number of calls, campaigns or webhooks, so the page can be polled every few seconds.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services.campaigns import campaigns_progress
from campaigns.states import ACTIVE_CAMPAIGN_STATUSES
from contactcenter.crm_webhooks.models import WebhookDelivery
from contactcenter.health import heartbeat_last
from telephony.models import Call, PhoneNumber, WebhookEvent
from telephony.services.stats import CallHistogram, CallSummary, call_histogram, call_summary
from telephony.states import LIVE_STATUSES, CallStatus

WINDOW = timedelta(hours=24)
# A webhook still unprocessed this long after it arrived is backlog (it is normally processed
# within a second of its commit; the sweeper retries the rest).
WEBHOOK_BACKLOG_AFTER = timedelta(minutes=2)
# A worker whose last heartbeat is older than this is reported as silent.
HEARTBEAT_STALE_AFTER = timedelta(minutes=3)
SYNC_PROBLEMS = (PhoneNumber.SyncState.ERROR, PhoneNumber.SyncState.MISSING)
MAX_LISTED = 20


@dataclass(frozen=True)
class WebhookHealth:
    last_received_at: datetime | None
    received: int  # in the window
    failed: int
    unmatched: int
    backlog: int  # received but not processed for a while
    deliveries_failed: int  # CRM webhook deliveries, in the window
    deliveries_pending: int

    @property
    def ok(self) -> bool:
        return not (self.failed or self.backlog or self.deliveries_failed)


@dataclass(frozen=True)
class DashboardSnapshot:
    now: datetime
    since: datetime
    live_calls: int
    queued_calls: int
    cap: int
    summary: CallSummary
    hourly: CallHistogram
    campaigns: list[tuple[Campaign, dict]]
    numbers_with_errors: list[PhoneNumber]
    numbers_with_errors_total: int
    webhooks: WebhookHealth
    last_heartbeat_at: datetime | None

    @property
    def cap_percent(self) -> float:
        return min(100.0, 100 * self.live_calls / self.cap) if self.cap else 0.0

    @property
    def worker_silent(self) -> bool:
        return (
            self.last_heartbeat_at is None
            or self.now - self.last_heartbeat_at > HEARTBEAT_STALE_AFTER
        )


def _webhook_health(*, now: datetime, since: datetime) -> WebhookHealth:
    # Each query is bounded by an index (received_at, status, created_at): these tables grow
    # without end and the dashboard asks every few seconds.
    S = WebhookEvent.Status
    recent = WebhookEvent.objects.filter(received_at__gte=since).aggregate(
        received=Count("id"),
        failed=Count("id", filter=Q(status=S.FAILED)),
        unmatched=Count("id", filter=Q(status=S.UNMATCHED)),
    )
    D = WebhookDelivery.Status
    return WebhookHealth(
        last_received_at=WebhookEvent.objects.order_by("-received_at")
        .values_list("received_at", flat=True)
        .first(),
        received=recent["received"],
        failed=recent["failed"],
        unmatched=recent["unmatched"],
        backlog=WebhookEvent.objects.filter(
            status=S.RECEIVED, received_at__lt=now - WEBHOOK_BACKLOG_AFTER
        ).count(),
        deliveries_failed=WebhookDelivery.objects.filter(
            created_at__gte=since, status=D.FAILED
        ).count(),
        deliveries_pending=WebhookDelivery.objects.filter(status=D.PENDING).count(),
    )


def dashboard_snapshot(*, now: datetime | None = None) -> DashboardSnapshot:
    now = now or timezone.now()
    since = now - WINDOW
    waiting_or_live = dict(
        Call.objects.filter(status__in=[*LIVE_STATUSES, CallStatus.QUEUED])  # status index
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    recent = Call.objects.filter(created_at__gte=since)
    campaigns = list(
        Campaign.objects.filter(status__in=ACTIVE_CAMPAIGN_STATUSES).order_by("-started_at", "-id")[
            :MAX_LISTED
        ]
    )
    progress = campaigns_progress(campaigns)
    problems = PhoneNumber.objects.filter(sync_state__in=SYNC_PROBLEMS).order_by("e164")
    numbers = list(problems[:MAX_LISTED])
    beat = heartbeat_last()
    return DashboardSnapshot(
        now=now,
        since=since,
        live_calls=sum(waiting_or_live.get(status, 0) for status in LIVE_STATUSES),
        queued_calls=waiting_or_live.get(CallStatus.QUEUED, 0),
        cap=settings.AGORA_MAX_CONCURRENT_CALLS,
        summary=call_summary(recent),
        hourly=call_histogram(recent, start=since, end=now, bucket=timedelta(hours=1)),
        campaigns=[(campaign, progress[campaign.pk]) for campaign in campaigns],
        numbers_with_errors=numbers,
        numbers_with_errors_total=len(numbers) if len(numbers) < MAX_LISTED else problems.count(),
        webhooks=_webhook_health(now=now, since=since),
        last_heartbeat_at=(
            datetime.fromtimestamp(beat["at"], tz=timezone.get_current_timezone()) if beat else None
        ),
    )
