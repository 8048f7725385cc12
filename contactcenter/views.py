"""The project's own pages: health probes and the login lockout. The staff console's pages are
in contactcenter.console.views."""

import logging

from django.conf import settings
from django.contrib import admin
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

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
