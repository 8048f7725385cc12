"""Staff read times in their own time zone: the admin pages' script stores the browser's zone in
a cookie, and this middleware renders the admin in it (the API and everything else stay UTC).
Fields that mean the contact's local time (a campaign's calling window) are wall-clock times
with no zone, so they read the same for everyone."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "staff_tz"
ADMIN_PREFIX = "/admin/"


def staff_zone(request: HttpRequest) -> ZoneInfo | None:
    """The zone the staff member's browser reported, when it is a real IANA zone."""
    name = request.COOKIES.get(COOKIE, "")
    if not name or name not in _zone_names():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _zone_names() -> frozenset[str]:
    global _NAMES
    if _NAMES is None:
        _NAMES = frozenset(available_timezones())
    return _NAMES


_NAMES: frozenset[str] | None = None


class StaffTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = staff_zone(request) if request.path.startswith(ADMIN_PREFIX) else None
        if zone is None:
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)
