"""Agent profiles: who answers a call (an AI Studio pipeline, or a full agent configuration).

Secret-looking values in `properties` are shown masked once saved (and stored encrypted);
the form keeps them as the API does (`telephony.services.agents`: `mask_properties`,
`unmask_properties`).
Validation is the model's own (`AgentProfile.clean` -> `agent_profile_check`).
"""

import json
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from contactcenter.forms import BoundedJSONField
from telephony.admin.analysis_fields import AnalysisFieldsFormField
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


@dataclass(frozen=True)
class CommonSetting:
    """A setting most agents need, edited as a form field and kept in `properties` at `path`."""

    name: str
    path: tuple[str, ...]
    field: forms.Field
    secret: bool = False


COMMON_SETTINGS = (
    CommonSetting("llm_url", ("llm", "url"), forms.URLField(
        label="LLM URL", required=False, assume_scheme="https",
        help_text="The chat-completions endpoint (llm.url).")),
    CommonSetting("llm_model", ("llm", "params", "model"), forms.CharField(
        label="LLM model", required=False, help_text="llm.params.model, e.g. gpt-4o-mini.")),
    CommonSetting("llm_api_key", ("llm", "api_key"), forms.CharField(
        label="LLM API key", required=False, widget=forms.PasswordInput(render_value=True),
        help_text=f"llm.api_key. Shown as {MASK} once saved: leave it to keep the key, or type "
        "a new one."), secret=True),
    CommonSetting("tts_vendor", ("tts", "vendor"), forms.CharField(
        label="TTS vendor", required=False, help_text="tts.vendor, e.g. microsoft, elevenlabs.")),
    CommonSetting("tts_voice", ("tts", "params", "voice_name"), forms.CharField(
        label="TTS voice", required=False,
        help_text="tts.params.voice_name, e.g. en-US-AndrewMultilingualNeural.")),
    CommonSetting("asr_language", ("asr", "language"), forms.CharField(
        label="ASR language", required=False, help_text="asr.language, e.g. en-US.")),
    CommonSetting("end_of_speech", ("turn_detection", "config", "end_of_speech", "mode"),
        forms.ChoiceField(
            label="Turn detection", required=False,
            choices=[("", "Agora's default"), ("vad", "Silence (VAD)"),
                     ("semantic", "Meaning (semantic)")],
            help_text="How the agent decides the callee has finished speaking "
            "(turn_detection.config.end_of_speech.mode).")),
)  # fmt: skip


def _get(properties: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(properties, dict):
            return None
        properties = properties.get(key)
    return properties


def _set(properties: dict, path: tuple[str, ...], value: Any) -> None:
    """Put `value` at `path` (creating the objects on the way); None removes the key."""
    node = properties
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            if value is None:
                return
            node[key] = {}
        node = node[key]
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


class AgentProfileForm(forms.ModelForm):
    properties = PrettyJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 16, "cols": 80, "style": "font-family: monospace"}),
        help_text="Agent configuration as in Agora's /join properties (llm, tts, asr, ...); the "
        "common settings above are kept here too, and a change there wins over this text. "
        f"Secret values (API keys, tokens) show as {MASK}: leave {MASK} to keep one, or type a "
        "new value to replace it. A kept value is only for the same endpoint: after changing a "
        "url, host, vendor or region beside it, type the value again.",
    )

    analysis_fields = AnalysisFieldsFormField(
        label="Fields to extract",
        help_text="What the analysis reads from each single call's conversation besides its "
        "disposition. Clear a name to remove its row.",
    )

    class Meta:
        model = AgentProfile
        fields = (
            "name",
            "description",
            "pipeline_id",
            "greeting_template",
            "system_prompt_template",
            "tools_enabled",
            "tool_instructions",
            "outcomes",
            "success_outcomes",
            "analysis_fields",
            "success_criterion",
            "properties",
        )
        help_texts = {
            "greeting_template": "First words of the agent.",
            "system_prompt_template": "Instructions for the LLM.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored_properties = self.instance.properties if self.instance.pk else {}
        stored = self.initial.get("properties") or {}
        for setting in COMMON_SETTINGS:
            value = _get(stored, setting.path)
            if setting.secret:
                value = MASK if value else ""
            self.initial[setting.name] = "" if value is None else value
        self.initial["properties"] = mask_properties(stored)

    def clean_properties(self) -> Any:
        value = self.cleaned_data.get("properties")
        if value is None:
            return {}
        return unmask_properties(value, self._stored_properties)

    def clean(self) -> dict[str, Any]:
        """A common setting changed on the form is written into the properties (its path);
        one left as it was leaves the properties text to say what it holds."""
        data = super().clean()
        properties = data.get("properties")
        if not isinstance(properties, dict):
            return data
        for setting in COMMON_SETTINGS:
            if setting.name not in self.data or setting.name not in self.changed_data:
                continue  # not on the submitted form, or left as it was
            value = data.get(setting.name)
            if setting.secret and value == MASK:
                continue
            _set(properties, setting.path, value if value not in ("", None) else None)
        data["properties"] = properties
        self.instance.properties = properties
        return data


# The common settings are form fields of their own (declared here, so that the admin's form,
# built from the fieldsets, knows them), not model fields.
for _setting in COMMON_SETTINGS:
    AgentProfileForm.base_fields[_setting.name] = _setting.field
    AgentProfileForm.declared_fields[_setting.name] = _setting.field


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
        (
            "Common settings",
            {
                "description": "The settings most agents need, kept in the properties below.",
                "fields": tuple(setting.name for setting in COMMON_SETTINGS),
            },
        ),
        (
            "In-call tools",
            {
                "description": "During the call the agent can end it, schedule a callback, "
                "record an opt-out or the outcome, and read the contact (over MCP: the app "
                "needs PUBLIC_BASE_URL, see the README). The instruction below follows the "
                "system prompt and tells the agent when to use each tool.",
                "fields": ("tools_enabled", "tool_instructions"),
            },
        ),
        (
            "After a single call",
            {
                "description": "What its single calls can achieve (the outcomes the agent may "
                "record, the analysis's dispositions) and what the analysis reads from each "
                "conversation besides its disposition. A campaign's calls follow the "
                "campaign's plan.",
                "fields": ("outcomes", "success_outcomes", "success_criterion", "analysis_fields"),
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
        # View-only staff see read-only fields: the properties then show masked too (and the
        # common settings are in them).
        return [
            (name, {**options, "fields": tuple(
                "properties_masked" if field == "properties" else field
                for field in options["fields"]
            )})
            for name, options in self.fieldsets
            if name != "Common settings"
        ]  # fmt: skip
