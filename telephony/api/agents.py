"""REST API for agent profiles, through `telephony.services.agents` as the admin does;
secret-looking agent properties are shown masked.
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, viewsets

from contactcenter.api.auth import model_access
from contactcenter.api.lookups import IntegerIdLookup
from contactcenter.models import ApiScope
from contactcenter.validators import BoundedJSONDecoder
from telephony.models import AgentProfile
from telephony.services.agents import (
    MASK,
    agent_profile_delete,
    agent_profile_save,
    agent_required_variables,
    mask_properties,
)


@extend_schema_field(OpenApiTypes.OBJECT)
class PropertiesField(serializers.JSONField):
    """Agora /join properties; secret-looking values are shown (and may be sent back) masked."""

    def __init__(self, **kwargs: Any) -> None:
        # Sent as a string (form-encoded bodies), it is parsed here: bounded like JSON bodies.
        kwargs.setdefault("decoder", BoundedJSONDecoder)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        return mask_properties(value or {})

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError('Enter a JSON object (e.g. {"llm": {...}}).')
        return value


class AgentProfileSerializer(serializers.ModelSerializer):
    properties = PropertiesField(
        required=False,
        help_text=f"Secret values show as {MASK}; send {MASK} back to keep one (refused when "
        "a url, host, vendor or region beside it changed: send the new value then).",
    )
    required_variables = serializers.SerializerMethodField()

    class Meta:
        model = AgentProfile
        fields = [
            "id",
            "name",
            "description",
            "pipeline_id",
            "properties",
            "greeting_template",
            "system_prompt_template",
            "tools_enabled",
            "tool_instructions",
            "outcomes",
            "success_outcomes",
            "analysis_fields",
            "success_criterion",
            "required_variables",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_required_variables(self, profile: AgentProfile) -> list[str]:
        return sorted(agent_required_variables(profile))


@extend_schema(tags=["agents"])
class AgentProfileViewSet(IntegerIdLookup, viewsets.ModelViewSet):
    """Who answers: an AI Studio pipeline, or a full agent configuration."""

    queryset = AgentProfile.objects.all()
    serializer_class = AgentProfileSerializer
    access = model_access(AgentProfile, read=ApiScope.AGENTS_READ, write=ApiScope.AGENTS_WRITE)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_create(self, serializer):
        serializer.instance = agent_profile_save(
            profile=AgentProfile(), **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = agent_profile_save(
            profile=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        agent_profile_delete(profile=instance)
