"""The project's own pages: health probes, Prometheus metrics and the login lockout. The staff
console's pages are in contactcenter.console.views."""

import hmac
import logging

from django.conf import settings
from django.contrib import admin
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from contactcenter.health import heartbeat_last
from contactcenter.metrics import CONTENT_TYPE_LATEST, scrape

logger = logging.getLogger(__name__)


@require_GET
def livez(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers requests. Touches nothing else (see healthz for that)."""
    return JsonResponse({"status": "ok"})


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus's scrape (contactcenter.metrics): only with METRICS_TOKEN as a bearer token.
    Without the setting there is no such page (404): never public by default."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        return HttpResponse(
            "metrics need the bearer token (METRICS_TOKEN)\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)


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
