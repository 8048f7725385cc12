"""Agent profiles: checking a configuration and rendering it for one call."""

import copy
import re
from typing import Any

from django.core.exceptions import ValidationError

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Set per call by the placement service; a profile may not fix them.
PER_CALL_PROPERTIES = frozenset({"channel", "token", "agent_rtc_uid", "remote_rtc_uids"})
REQUIRED_WITHOUT_PIPELINE = ("llm", "tts")


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


def agent_properties_for_call(profile, variables: dict[str, Any]) -> tuple[str | None, dict]:
    """(pipeline_id, properties) for one call, every {{variable}} filled from `variables`."""
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
    if missing:
        raise MissingTemplateVariables(missing)
    return (profile.pipeline_id or None), properties
