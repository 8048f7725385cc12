"""Ids in API paths and filters: anything that is not one is a clean 404 (or 400), never a 500.

On integer-keyed viewsets (`IntegerIdLookup`) a path id must be a whole number between 1 and
PostgreSQL's bigint maximum, checked once before any action runs (however it then fetches its
object), else 404. A path under /api/ that matches no route at all (`1.5`: the router's ids
never hold a dot; unknown resources) gets the API's error body from `api_not_found` (the
project's handler404). UUID-keyed routes (calls) answer 404 for a malformed UUID through DRF's
own lookup. Filters by id (`IdFilter`) take the same whole numbers, else a 400 naming them.
"""

import django_filters
from django import forms
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from rest_framework.exceptions import NotFound

BIGINT_MAX = 2**63 - 1


def is_id(value: str) -> bool:
    """A whole number from 1 to bigint's maximum, in plain ASCII digits."""
    return value.isascii() and value.isdigit() and 0 < int(value) <= BIGINT_MAX


class IntegerIdLookup:
    """For viewsets keyed by an integer id: any other value in the path is a 404 with the
    error body, after authentication and before the action runs."""

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        value = kwargs.get(self.lookup_url_kwarg or self.lookup_field)
        if value is not None and not is_id(str(value)):
            raise NotFound()


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
