"""Agent profiles: checking a configuration, rendering it for one call, and keeping its secrets.

Secret-looking values in `properties` (API keys, tokens, passwords: see
`telephony.agora.redaction.is_secret_key`) are shown as MASK once saved, by the admin form and
the API alike (`mask_properties`). Sending MASK back for such a key keeps the stored value,
unless an endpoint beside it changed (then the value must be typed again); anything else
replaces it (`unmask_properties`).
"""

import copy
import re
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError

from telephony.agora.redaction import MASK, is_secret_key, redact
from telephony.outcomes import success_outcomes_error

if TYPE_CHECKING:  # the model calls agent_profile_check from its clean()
    from telephony.models import AgentProfile

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Set per call by the placement service; a profile may not fix them.
PER_CALL_PROPERTIES = frozenset({"channel", "token", "agent_rtc_uid", "remote_rtc_uids"})
REQUIRED_WITHOUT_PIPELINE = ("llm", "tts")

# Words of a key that say where the secrets beside it are sent, in any spelling: base_url,
# baseURL, wsUrl, apiHost, api_base, endpoint, region, vendor...
ENDPOINT_WORDS = frozenset(
    {"url", "urls", "uri", "endpoint", "endpoints", "host", "hostname", "address", "server",
     "domain", "region", "vendor", "provider", "base"}
)  # fmt: skip
_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class MissingTemplateVariables(ValueError):
    def __init__(self, missing: set[str]) -> None:
        self.missing = sorted(missing)
        super().__init__(
            "The agent's templates need variables this call does not have: "
            + ", ".join(self.missing)
        )


def template_variables(text: str) -> set[str]:
    return set(VARIABLE.findall(text or ""))


def render_template(text: str, variables: dict[str, Any]) -> str:
    """Fill `{{name}}` placeholders; a missing variable is an error, never a silent blank."""
    missing = {name for name in template_variables(text) if variables.get(name) in (None, "")}
    if missing:
        raise MissingTemplateVariables(missing)
    return VARIABLE.sub(lambda match: str(variables[match.group(1)]), text)


def _render_strings(value: Any, variables: dict[str, Any], missing: set[str]) -> Any:
    if isinstance(value, str):
        try:
            return render_template(value, variables)
        except MissingTemplateVariables as error:
            missing.update(error.missing)
            return value
    if isinstance(value, dict):
        return {key: _render_strings(item, variables, missing) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_strings(item, variables, missing) for item in value]
    return value


def agent_profile_check(profile) -> None:
    """Raise ValidationError (by field) when the profile cannot place a call."""
    errors: dict[str, list[str]] = {}
    properties = profile.properties
    if not isinstance(properties, dict):
        errors["properties"] = ['Enter a JSON object (e.g. {"llm": {...}, "tts": {...}}).']
    else:
        fixed = sorted(PER_CALL_PROPERTIES & set(properties))
        if fixed:
            errors.setdefault("properties", []).append(
                f"Remove {', '.join(fixed)}: they are set for each call."
            )
        if not profile.pipeline_id:
            for part in REQUIRED_WITHOUT_PIPELINE:
                if not isinstance(properties.get(part), dict):
                    errors.setdefault("properties", []).append(
                        f"Without a pipeline id, properties must contain '{part}' (an object)."
                    )
        if "labels" in properties and not isinstance(properties["labels"], dict):
            errors.setdefault("properties", []).append("labels must be an object of strings.")
    for field in ("greeting_template", "system_prompt_template"):
        text = getattr(profile, field) or ""
        if text.count("{{") != text.count("}}") or len(VARIABLE.findall(text)) != text.count("{{"):
            errors[field] = ["Placeholders look like {{first_name}}: letters, digits, _ only."]
    if problem := success_outcomes_error(profile.outcomes, profile.success_outcomes):
        errors["success_outcomes"] = [problem]
    if errors:
        raise ValidationError(errors)


def agent_required_variables(profile) -> set[str]:
    names = template_variables(profile.greeting_template) | template_variables(
        profile.system_prompt_template
    )
    stack = [profile.properties]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            names |= template_variables(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return names


def agent_properties_for_call(
    profile, variables: dict[str, Any], *, with_tools: bool = False
) -> tuple[str | None, dict]:
    """(pipeline_id, properties) for one call, every {{variable}} filled from `variables`;
    `with_tools`: the profile's tool instructions follow its system prompt."""
    missing: set[str] = set()
    properties = _render_strings(copy.deepcopy(profile.properties or {}), variables, missing)
    llm = (
        properties.setdefault("llm", {})
        if (profile.greeting_template or profile.system_prompt_template)
        else properties.get("llm")
    )
    if profile.greeting_template:
        llm["greeting_message"] = _render_strings(profile.greeting_template, variables, missing)
    if profile.system_prompt_template:
        llm["system_messages"] = [
            {
                "role": "system",
                "content": _render_strings(profile.system_prompt_template, variables, missing),
            }
        ]
    if with_tools and profile.tool_instructions.strip():
        llm = properties.setdefault("llm", {})
        llm["system_messages"] = [
            *llm.get("system_messages", []),
            {"role": "system", "content": profile.tool_instructions.strip()},
        ]
    if missing:
        raise MissingTemplateVariables(missing)
    return (profile.pipeline_id or None), properties


# -- secrets: shown masked, kept when sent back masked ---------------------------------------


def mask_properties(properties: Any) -> Any:
    """A copy with the value of every secret-looking key replaced by MASK.

    Strings are not scrubbed: the copy comes back from the form or the API, and every value
    that is not a MASK is stored as sent.
    """
    return redact(properties, mask=MASK, keep_blank=True, scrub_text=False)


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


# -- saving and deleting (the API; the admin's form does the same through the model's clean) ---


@transaction.atomic
def agent_profile_save(*, profile: "AgentProfile", **fields: Any) -> "AgentProfile":
    """Create or change a profile as the admin form does: unmask the properties sent back
    masked, check the whole profile (`AgentProfile.clean` -> `agent_profile_check`), save."""
    if "properties" in fields:
        try:
            fields["properties"] = unmask_properties(
                fields["properties"], profile.properties if profile.pk else {}
            )
        except ValidationError as error:
            raise ValidationError({"properties": error.messages}) from None
    for field, value in fields.items():
        setattr(profile, field, value)
    profile.full_clean()
    profile.save()
    return profile


def agent_profile_delete(*, profile: "AgentProfile") -> None:
    """Delete a profile no campaign uses; otherwise say which campaigns use it."""
    try:
        profile.delete()
    except ProtectedError as error:
        names = sorted({str(obj) for obj in error.protected_objects})
        raise ValidationError(
            f"'{profile.name}' is used by {len(names)} campaign"
            f"{'s' if len(names) != 1 else ''} ({', '.join(names)}): "
            "give those campaigns another agent or delete them first."
        ) from None
