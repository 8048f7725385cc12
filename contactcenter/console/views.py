"""The staff console's pages: the operations dashboard, inside the admin (same login, header and
permissions; contactcenter.console.urls). Its figures come from `dashboard_snapshot`."""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from analysis.models import CallAnalysis
from analysis.reports import dispositions
from campaigns.services.answer_rates import answer_rates
from contactcenter.admin_display import format_duration, progress_display
from contactcenter.console.charts import (
    answer_rate_heat_map,
    calls_over_time_chart,
    outcome_bars,
)
from contactcenter.console.selectors import dashboard_snapshot
from telephony.models import Call

DASHBOARD_REFRESH_MS = 5000
ANSWER_RATE_SPAN = timedelta(days=28)
DISPOSITION_SPAN = timedelta(days=7)


def _dashboard_context(request: HttpRequest) -> dict:
    if not request.user.has_perm("telephony.view_call"):
        raise PermissionDenied
    snapshot = dashboard_snapshot()
    return {
        "snapshot": snapshot,
        "average_talk": format_duration(
            None
            if snapshot.summary.average_talk_seconds is None
            else round(snapshot.summary.average_talk_seconds)
        ),
        "outcome_bars": outcome_bars(snapshot.summary),
        "hourly_chart": calls_over_time_chart(
            snapshot.hourly, title="Calls in the last 24 hours by outcome, per hour"
        ),
        "campaign_rows": [
            {"campaign": campaign, "progress": progress_display(progress)}
            for campaign, progress in snapshot.campaigns
        ],
    }


REPORTS_CACHE_KEY = "console:reports"


def _reports_context(*, now) -> dict:
    """What staff decide from, as of the page's load (heavier than the live panels, so not
    refreshed with them): answer rates by the callee's weekday and hour over the last four
    weeks, and the last week's analysed calls by disposition. Over REPORTS_CACHE_ABOVE calls
    (a million take most of a second) they are computed at most every REPORTS_CACHE_SECONDS;
    below, at every load."""
    figures = cache.get(REPORTS_CACHE_KEY)
    if figures is None:
        calls = Call.objects.filter(created_at__gte=now - ANSWER_RATE_SPAN)
        analyses = CallAnalysis.objects.filter(analyzed_at__gte=now - DISPOSITION_SPAN)
        figures = (answer_rates(calls), dispositions(analyses))
        if figures[0].calls + figures[0].unplaced > settings.REPORTS_CACHE_ABOVE:
            cache.set(REPORTS_CACHE_KEY, figures, timeout=settings.REPORTS_CACHE_SECONDS)
    rates, by_disposition = figures
    return {
        "answer_rates": answer_rate_heat_map(
            rates,
            title="Answer rate by weekday and hour, in each callee's local time (4 weeks)",
        ),
        "dispositions": by_disposition,
    }


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The operations dashboard (inside the admin: admin.site.admin_view checks staff)."""
    context = {
        **admin.site.each_context(request),
        **_dashboard_context(request),
        **_reports_context(now=timezone.now()),
        "title": "Operations dashboard",
        "refresh_ms": DASHBOARD_REFRESH_MS,
        "live_url": reverse("console-dashboard-live"),
    }
    return render(request, "console/dashboard.html", context)


@require_GET
def dashboard_live(request: HttpRequest) -> HttpResponse:
    """The dashboard's panels alone: the page swaps them in every few seconds."""
    response = render(request, "console/dashboard_live.html", _dashboard_context(request))
    response["Cache-Control"] = "no-store"
    return response
