"""Ids in API paths and filters: anything that is not one is a clean 404 (or 400), never a 500.

Integer-keyed routes only match digits (`IntegerIdLookup`); any other path under /api/ that
matches no route (`abc`, `1.5`, ...) gets the API's error body from `api_not_found` (the
project's handler404). Digits beyond PostgreSQL's bigint find nothing (Django answers an empty
result for out-of-range integers) and are a 404 too. UUID-keyed routes (calls) answer 404 for a
malformed UUID through DRF's own lookup.
"""

import django_filters
from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found

BIGINT_MAX = 2**63 - 1


class IntegerIdLookup:
    """For viewsets keyed by an integer id: the route only matches digits."""

    lookup_value_regex = "[0-9]+"


class IdFilter(django_filters.NumberFilter):
    """A filter by integer id: a whole number between 1 and bigint's maximum, else a 400."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


def api_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The project's 404 page: the API's error body for paths under /api/, Django's otherwise."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}, status=404
        )
    return page_not_found(request, exception)
