"""Form fields shared by the admin pages."""

from django import forms
from django.core.exceptions import ValidationError

from contactcenter.validators import JsonTooDeep, json_loads


class BoundedJSONField(forms.JSONField):
    """A JSON form field that refuses text nested deeper than JSON_MAX_DEPTH with a form error
    (Django's own would fail with a RecursionError, a server error, on very deep text)."""

    def _too_deep(self, value) -> JsonTooDeep | None:
        if not isinstance(value, str):
            return None
        try:
            json_loads(value)
        except JsonTooDeep as error:
            return error
        except ValueError:
            return None  # not JSON at all: Django's own message says so
        return None

    def to_python(self, value):
        if not self.disabled and (error := self._too_deep(value)):
            raise ValidationError(str(error), code="too_deep")
        return super().to_python(value)

    def bound_data(self, data, initial):
        if not self.disabled and self._too_deep(data):
            return forms.fields.InvalidJSONInput(data)  # shown back as typed, with the error
        return super().bound_data(data, initial)
