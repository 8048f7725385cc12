"""The admin's table for an analysis plan's fields: one row per field (name, type, description,
the choices of an enum), three empty rows to add more, a row whose name is cleared is removed.
What is stored is the JSON schema `telephony.analysis_fields` writes; a campaign's form and an
agent profile's both use it."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string

from telephony.analysis_fields import FIELD_TYPES, FieldSpec, fields_of, schema_of

EMPTY_ROWS = 3
COLUMNS = ("name", "type", "description", "choices")


def _split_choices(text: str) -> tuple[str, ...]:
    return tuple(choice.strip() for choice in re.split(r"[,\n]", text or "") if choice.strip())


class AnalysisFieldsWidget(forms.Widget):
    template_name = "admin/widgets/analysis_fields.html"

    def format_value(self, value) -> list[dict]:
        """Rows to show: the stored schema's, or the rows just sent back (an error)."""
        if isinstance(value, list):
            rows = value
        else:
            try:
                specs = fields_of(value)
            except ValidationError:
                specs = []
            rows = [
                {"name": spec.name, "type": spec.type, "description": spec.description,
                 "choices": ", ".join(spec.choices)}
                for spec in specs
            ]  # fmt: skip
        return [*rows, *({"name": "", "type": "string", "description": "", "choices": ""}
                         for _ in range(EMPTY_ROWS))]  # fmt: skip

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["rows"] = context["widget"]["value"]
        context["widget"]["types"] = FIELD_TYPES
        return context

    def render(self, name, value, attrs=None, renderer=None) -> str:
        # The project's templates (the default form renderer sees only the apps' folders); the
        # template escapes every value, and what it renders is already safe.
        return render_to_string(self.template_name, self.get_context(name, value, attrs))

    def value_from_datadict(self, data, files, name) -> list[dict] | None:
        count = data.get(f"{name}-rows")
        if count is None:
            return None
        try:
            count = min(int(count), 100)
        except ValueError:
            return None
        return [
            {column: (data.get(f"{name}-{index}-{column}") or "").strip() for column in COLUMNS}
            for index in range(count)
        ]

    def value_omitted_from_data(self, data, files, name) -> bool:
        return f"{name}-rows" not in data


class AnalysisFieldsFormField(forms.Field):
    widget = AnalysisFieldsWidget

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> dict:
        if value is None or isinstance(value, dict):
            return schema_of(fields_of(value))
        rows = [row for row in value if row.get("name") or row.get("description")]
        specs = [
            FieldSpec(row.get("name", ""), row.get("type", ""), row.get("description", ""),
                      _split_choices(row.get("choices", "")))
            for row in rows
        ]  # fmt: skip
        for spec in specs:
            if not spec.name:
                raise ValidationError(f"Give the field described {spec.description!r} a name.")
        return schema_of(specs)

    def has_changed(self, initial, data) -> bool:
        try:
            return self.to_python(initial) != self.to_python(data)
        except ValidationError:
            return True
