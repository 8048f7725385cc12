import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from contactcenter.health import heartbeat_last

logger = logging.getLogger(__name__)


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
