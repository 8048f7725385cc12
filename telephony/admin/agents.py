"""Agent profiles: who answers a call (an AI Studio pipeline, or a full agent configuration).

Secret-looking values in `properties` (API keys, tokens, passwords: see
`telephony.agora.redaction.is_secret_key`) are shown as "********" once saved (and stored
encrypted). Submitting the form with "********" for such a key keeps the stored value, unless
an endpoint beside it changed (then the value must be typed again); typing anything else
replaces it.
Validation is the model's own (`AgentProfile.clean` -> `agent_profile_check`).
"""

import json
import re
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from contactcenter.forms import BoundedJSONField
from telephony.agora.redaction import is_secret_key
from telephony.models import AgentProfile
from telephony.services.agents import agent_required_variables

MASK = "********"

# Words of a key that say where the secrets beside it are sent, in any spelling: base_url,
# baseURL, wsUrl, apiHost, api_base, endpoint, region, vendor...
ENDPOINT_WORDS = frozenset(
    {"url", "urls", "uri", "endpoint", "endpoints", "host", "hostname", "address", "server",
     "domain", "region", "vendor", "provider", "base"}
)  # fmt: skip
_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

VARIABLES_HELP = (
    "Write placeholders as {{first_name}} (letters, digits and _). Each call fills them from "
    "its variables (the contact's fields and the campaign's variables), in the greeting, the "
    "system prompt and any text inside properties. A call that lacks a variable is refused, "
    "never sent with a blank."
)


def mask_properties(value: Any) -> Any:
    """A copy with the value of every secret-looking key replaced by MASK."""
    if isinstance(value, dict):
        return {
            key: MASK if is_secret_key(key) and item not in (None, "") else mask_properties(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_properties(item) for item in value]
    return value


def is_endpoint_key(key: object) -> bool:
    """True when a key names where a secret beside it is sent (url, host, vendor, region...)."""
    if not isinstance(key, str):
        return False
    words = re.findall(r"[a-z0-9]+", _WORD_BOUNDARY.sub("_", key).lower())
    return any(word in ENDPOINT_WORDS for word in words)


def _changed_endpoint(scopes: list[tuple[dict, dict, str]]) -> str | None:
    """The path of an endpoint-like value that differs from the stored one, in the object that
    holds a kept secret or in any object around it (tts.vendor decides where tts.params.key
    goes); None when none changed."""
    for submitted, stored, where in reversed(scopes):
        for key in sorted({*submitted, *stored}, key=str):
            if is_endpoint_key(key) and submitted.get(key) != stored.get(key):
                return f"{where}.{key}" if where else str(key)
    return None


def unmask_properties(submitted: Any, stored: Any, where: str = "", scopes: tuple = ()) -> Any:
    """`submitted`, with every MASK under a secret key put back to the stored value.

    A stored secret is only kept for the endpoint it was entered for: when an endpoint-like
    value around it changed (`llm.url` moved to another host, `tts.vendor` changed), keeping
    it would send it somewhere new, so the new secret must be typed in.
    """
    if isinstance(submitted, dict):
        stored_dict = stored if isinstance(stored, dict) else {}
        inner = (*scopes, (submitted, stored_dict, where))
        result = {}
        for key, item in submitted.items():
            here = f"{where}.{key}" if where else str(key)
            if is_secret_key(key) and item == MASK:
                if stored_dict.get(key) in (None, ""):
                    raise ValidationError(
                        f"{here}: there is no stored value to keep; enter the value itself."
                    )
                changed = _changed_endpoint(list(inner))
                if changed is not None:
                    raise ValidationError(
                        f"{here}: {changed} changed, so the stored value is not sent there: "
                        f"enter the {key} for the new endpoint (or put {changed} back)."
                    )
                result[key] = stored_dict[key]
            else:
                result[key] = unmask_properties(item, stored_dict.get(key), here, inner)
        return result
    if isinstance(submitted, list):
        stored_list = stored if isinstance(stored, list) else []
        return [
            unmask_properties(
                item,
                stored_list[index] if index < len(stored_list) else None,
                f"{where}[{index}]",
                scopes,
            )
            for index, item in enumerate(submitted)
        ]
    return submitted


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
class AgentProfileAdmin(admin.ModelAdmin):
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
