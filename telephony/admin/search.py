"""Admin searches that understand phone numbers as people type them."""

from django.core.exceptions import ValidationError
from django.http import HttpRequest

from telephony.validators import normalize_phone_number


class PhoneNumberSearchMixin:
    """Also finds a number typed in national format (415 555 0100) or with punctuation."""

    phone_search_field = "phone"

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        found, duplicates = super().get_search_results(request, queryset, search_term)
        try:
            e164 = normalize_phone_number(search_term)
        except ValidationError:
            return found, duplicates
        return found | queryset.filter(**{self.phone_search_field: e164}), duplicates
