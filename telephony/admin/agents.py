"""Agent profiles: who answers a call (an AI Studio pipeline, or a full agent configuration).

Secret-looking values in `properties` are shown masked once saved (and stored encrypted);
the form keeps them as the API does (`telephony.services.agents`: `mask_properties`,
`unmask_properties`).
Validation is the model's own (`AgentProfile.clean` -> `agent_profile_check`).
"""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from contactcenter.forms import BoundedJSONField
from telephony.admin.calls import TestCallMixin
from telephony.models import AgentProfile
from telephony.services.agents import (
    MASK,
    agent_required_variables,
    mask_properties,
    unmask_properties,
)

VARIABLES_HELP = (
    "Write placeholders as {{first_name}} (letters, digits and _). Each call fills them from "
    "its variables (the contact's fields and the campaign's variables), in the greeting, the "
    "system prompt and any text inside properties. A call that lacks a variable is refused, "
    "never sent with a blank."
)


class PrettyJSONField(BoundedJSONField):
    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class AgentProfileForm(forms.ModelForm):
    properties = PrettyJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 16, "cols": 80, "style": "font-family: monospace"}),
        help_text="Agent configuration as in Agora's /join properties (llm, tts, asr, ...). "
        f"Secret values (API keys, tokens) show as {MASK}: leave {MASK} to keep one, or type a "
        "new value to replace it. A kept value is only for the same endpoint: after changing a "
        "url, host, vendor or region beside it, type the value again. " + VARIABLES_HELP,
    )

    class Meta:
        model = AgentProfile
        fields = (
            "name",
            "description",
            "pipeline_id",
            "greeting_template",
            "system_prompt_template",
            "properties",
        )
        help_texts = {
            "greeting_template": "First words of the agent. " + VARIABLES_HELP,
            "system_prompt_template": "Instructions for the LLM. " + VARIABLES_HELP,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored_properties = self.instance.properties if self.instance.pk else {}
        self.initial["properties"] = mask_properties(self.initial.get("properties") or {})

    def clean_properties(self) -> Any:
        value = self.cleaned_data.get("properties")
        if value is None:
            return {}
        return unmask_properties(value, self._stored_properties)


@admin.register(AgentProfile)
class AgentProfileAdmin(TestCallMixin, admin.ModelAdmin):
    test_call_field = "agent_profile"
    form = AgentProfileForm
    list_display = ("name", "pipeline_id", "updated_at")
    search_fields = ("name",)
    readonly_fields = ("variables_needed", "properties_masked", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "description", "pipeline_id")}),
        (
            "What the agent says and knows",
            {
                "description": VARIABLES_HELP,
                "fields": ("greeting_template", "system_prompt_template", "variables_needed"),
            },
        ),
        ("Agent configuration", {"fields": ("properties",)}),
        ("Record", {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="variables each call must have")
    def variables_needed(self, profile: AgentProfile) -> str:
        if profile.pk is None:
            return "-"
        names = sorted(agent_required_variables(profile))
        if not names:
            return "None"
        return format_html_join(", ", "<code>{{{{{}}}}}</code>", ((name,) for name in names))

    @admin.display(description="properties")
    def properties_masked(self, profile: AgentProfile) -> str:
        text = json.dumps(mask_properties(profile.properties), indent=2, ensure_ascii=False)
        return format_html('<pre style="margin:0;white-space:pre-wrap">{}</pre>', text)

    def get_fieldsets(self, request: HttpRequest, obj: AgentProfile | None = None):
        if obj is None or self.has_change_permission(request, obj):
            return self.fieldsets
        # View-only staff see read-only fields: the properties then show masked too.
        return [
            (name, {**options, "fields": tuple(
                "properties_masked" if field == "properties" else field
                for field in options["fields"]
            )})
            for name, options in self.fieldsets
        ]  # fmt: skip
