import logging

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from contactcenter.admin_display import format_duration, progress_display
from contactcenter.charts import calls_over_time_chart, outcome_bars
from contactcenter.console import floor_snapshot
from contactcenter.health import heartbeat_last

logger = logging.getLogger(__name__)


@require_GET
def livez(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers requests. Touches nothing else (see healthz for that)."""
    return JsonResponse({"status": "ok"})


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and compose health checks: database reachable? worker alive?"""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except DatabaseError:
        logger.exception("health check: the database is unreachable")
        database = "unavailable"
    beat = heartbeat_last()
    body = {
        "database": database,
        "last_heartbeat_at": beat["at"] if beat else None,
    }
    return JsonResponse(body, status=200 if database == "ok" else 503)


# -- the staff console --------------------------------------------------------------------------

DASHBOARD_REFRESH_MS = 5000


def _dashboard_context(request: HttpRequest) -> dict:
    if not request.user.has_perm("telephony.view_call"):
        raise PermissionDenied
    snapshot = floor_snapshot()
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


def login_locked_out(request: HttpRequest, response=None, credentials=None) -> HttpResponse:
    """django-axes' answer to a login while its username is locked out from this address
    (AXES_LOCKOUT_CALLABLE): the admin's login page with the reason, 429."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    context = {
        **admin.site.each_context(request),
        "title": "Log in",
        "lockout_minutes": minutes,
    }
    return render(request, "admin/locked_out.html", context, status=429)
