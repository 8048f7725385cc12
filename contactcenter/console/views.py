"""The staff console's pages: the operations dashboard, inside the admin (same login, header and
permissions; contactcenter.console.urls). Its figures come from `dashboard_snapshot`."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from contactcenter.admin_display import format_duration, progress_display
from contactcenter.console.charts import calls_over_time_chart, outcome_bars
from contactcenter.console.selectors import dashboard_snapshot

DASHBOARD_REFRESH_MS = 5000


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


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The operations dashboard (inside the admin: admin.site.admin_view checks staff)."""
    context = {
        **admin.site.each_context(request),
        **_dashboard_context(request),
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
