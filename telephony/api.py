"""REST API for telephony: phone numbers, agents, calls (see contactcenter/api).

Views parse input, call one service and serialize the result: numbers through
`telephony.services.numbers`, calls through `telephony.services.calls`, agent profiles through
the model's own validation (`AgentProfile.clean` -> `agent_profile_check`), as the admin does.
Secrets never leave: the SIP password is write-only, secret-looking agent properties are masked.
"""

from datetime import UTC
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import F, ProtectedError, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from contactcenter.api.auth import model_access, needs
from contactcenter.api.idempotency import idempotent
from contactcenter.api.lookups import IdFilter, IntegerIdLookup, is_id
from contactcenter.models import ApiScope
from contactcenter.redaction import redact
from contactcenter.validators import BoundedJSONDecoder
from telephony.models import AgentProfile, Call, CallEvent, PhoneNumber
from telephony.services.agents import (
    MASK,
    agent_required_variables,
    mask_properties,
    unmask_properties,
)
from telephony.services.calls import call_create, call_hangup
from telephony.services.numbers import (
    phone_number_create,
    phone_number_delete,
    phone_number_update,
)
from telephony.states import CallStatus
from telephony.tasks import sync_phone_numbers
from telephony.validators import normalize_phone_number

REFUSED_HELP = (
    "422: refused by the dialing rules, with `error.code` naming the rule: `do_not_call`, "
    "`calling_hours` (outside 08:00-21:00 in the callee's local time, by default) or "
    "`destination` (a country not allowed, or a premium-rate, shared-cost or similar number)."
)


def _outcome(text: str) -> Any:
    return inline_serializer(
        name=text, fields={"result": serializers.CharField(), "message": serializers.CharField()}
    )


# -- phone numbers ----------------------------------------------------------------------------


class PhoneNumberSerializer(serializers.ModelSerializer):
    # Normalised (national input allowed) and checked for duplicates by the service.
    e164 = serializers.CharField(
        max_length=32,
        help_text="E.164, e.g. +14155550100; national numbers use the default region.",
    )
    inbound_allowed_addresses = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False
    )
    outbound_password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=255,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Write-only: never returned. Empty in an update keeps the stored password "
        "(only while outbound_address stays the same).",
    )
    has_outbound_password = serializers.SerializerMethodField()

    class Meta:
        model = PhoneNumber
        fields = [
            "id",
            "e164",
            "label",
            "provider",
            "inbound",
            "outbound",
            "inbound_allowed_addresses",
            "outbound_address",
            "outbound_transport",
            "outbound_prefix",
            "outbound_user",
            "outbound_password",
            "has_outbound_password",
            "inbound_pipeline_id",
            "outbound_pipeline_id",
            "origin",
            "sync_state",
            "last_error",
            "last_synced_at",
            "differences",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "origin",
            "sync_state",
            "last_error",
            "last_synced_at",
            "differences",
            "created_at",
            "updated_at",
        ]

    def get_has_outbound_password(self, number: PhoneNumber) -> bool:
        return bool(number.outbound_password)


@extend_schema(tags=["phone numbers"])
class PhoneNumberViewSet(
    IntegerIdLookup,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Numbers imported into Agora. Every change is pushed to Agora by a worker."""

    queryset = PhoneNumber.objects.all()
    serializer_class = PhoneNumberSerializer
    filterset_fields = ["sync_state", "provider", "origin"]
    access = model_access(PhoneNumber, read=ApiScope.NUMBERS_READ, write=ApiScope.NUMBERS_WRITE) | {
        "sync": needs(ApiScope.NUMBERS_WRITE, "telephony.change_phonenumber")
    }

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        number = phone_number_create(**serializer.validated_data)
        return Response(self.get_serializer(number).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        number = self.get_object()
        serializer = self.get_serializer(number, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        number = phone_number_update(number=number, **serializer.validated_data)
        return Response(self.get_serializer(number).data)

    @extend_schema(
        responses={204: None, 202: _outcome("PhoneNumberDeleteOutcome")},
        description="204: deleted at once (never pushed). 202: a worker deletes it in Agora, "
        "then here. 400 with the reasons when it cannot be deleted now.",
    )
    def destroy(self, request, *args, **kwargs):
        number = self.get_object()
        result = phone_number_delete(number=number)
        if result == "deleted":
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            {"result": result, "message": f"{number.e164} is being deleted in Agora."},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        request=None,
        responses={202: _outcome("PhoneNumberSyncOutcome")},
        description="Compare Agora's numbers with ours now (a worker does it).",
    )
    @action(detail=False, methods=["post"])
    def sync(self, request, *args, **kwargs):
        sync_phone_numbers.delay()
        return Response(
            {"result": "queued", "message": "Phone numbers will be compared with Agora's."},
            status=status.HTTP_202_ACCEPTED,
        )


# -- agents -----------------------------------------------------------------------------------


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
            "required_variables",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_required_variables(self, profile: AgentProfile) -> list[str]:
        return sorted(agent_required_variables(profile))


@transaction.atomic
def _agent_profile_save(*, profile: AgentProfile, **fields: Any) -> AgentProfile:
    """Create or change a profile as the admin form does: unmask, full_clean, save."""
    if "properties" in fields:
        try:
            fields["properties"] = unmask_properties(
                fields["properties"], profile.properties if profile.pk else {}
            )
        except DjangoValidationError as error:
            raise DjangoValidationError({"properties": error.messages}) from None
    for field, value in fields.items():
        setattr(profile, field, value)
    profile.full_clean()
    profile.save()
    return profile


@extend_schema(tags=["agents"])
class AgentProfileViewSet(IntegerIdLookup, viewsets.ModelViewSet):
    """Who answers: an AI Studio pipeline, or a full agent configuration."""

    queryset = AgentProfile.objects.all()
    serializer_class = AgentProfileSerializer
    access = model_access(AgentProfile, read=ApiScope.AGENTS_READ, write=ApiScope.AGENTS_WRITE)
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_create(self, serializer):
        serializer.instance = _agent_profile_save(
            profile=AgentProfile(), **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = _agent_profile_save(
            profile=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError as error:
            names = sorted({str(obj) for obj in error.protected_objects})
            raise serializers.ValidationError(
                f"'{instance.name}' is used by {len(names)} campaign"
                f"{'s' if len(names) != 1 else ''} ({', '.join(names)}): "
                "give those campaigns another agent or delete them first."
            ) from None


# -- calls ------------------------------------------------------------------------------------


class CallEventSerializer(serializers.ModelSerializer):
    payload = serializers.SerializerMethodField()

    class Meta:
        model = CallEvent
        fields = [
            "id",
            "source",
            "kind",
            "from_status",
            "to_status",
            "agora_state",
            "report_ms",
            "detail",
            "payload",
            "created_at",
        ]

    def get_payload(self, event: CallEvent) -> dict[str, Any]:
        return redact(event.payload or {})


class CallSerializer(serializers.ModelSerializer):
    caller_number = serializers.CharField(
        source="caller_id.e164", default=None, read_only=True, allow_null=True
    )
    agent = serializers.PrimaryKeyRelatedField(source="agent_profile", read_only=True)
    agent_name = serializers.CharField(
        source="agent_profile.name", default=None, read_only=True, allow_null=True
    )
    campaign = serializers.IntegerField(
        source="campaign_id", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = Call
        fields = [
            "id",
            "direction",
            "status",
            "to_number",
            "from_number",
            "caller_id",
            "caller_number",
            "agent",
            "agent_name",
            "campaign",
            "variables",
            "labels",
            "end_reason",
            "agora_reason",
            "last_error",
            "queued_at",
            "dialed_at",
            "ringing_at",
            "answered_at",
            "ended_at",
            "duration_seconds",
            "hangup_requested_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CallDetailSerializer(CallSerializer):
    events = CallEventSerializer(many=True, read_only=True)

    class Meta(CallSerializer.Meta):
        fields = [*CallSerializer.Meta.fields, "events", "transcript", "turn_metrics"]
        read_only_fields = fields


class CallCreateSerializer(serializers.Serializer):
    to_number = serializers.CharField(max_length=32, help_text="E.164, or national.")
    caller_id = serializers.CharField(
        max_length=32, help_text="The calling number: its id, or the number itself (E.164)."
    )
    agent = serializers.CharField(max_length=100, help_text="The agent profile: id or name.")
    variables = serializers.DictField(required=False, default=dict)
    labels = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    callee_timezone = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="IANA time zone of the callee (e.g. America/New_York). Without it the calling "
        "hours must hold in every time zone of the number.",
    )

    def validate_caller_id(self, value: str) -> PhoneNumber:
        value = value.strip()
        number = None
        if is_id(value):
            number = PhoneNumber.objects.filter(pk=int(value)).first()
        if number is None:
            try:
                number = PhoneNumber.objects.filter(e164=normalize_phone_number(value)).first()
            except DjangoValidationError:
                number = None
        if number is None:
            raise serializers.ValidationError(f"No phone number with id or number '{value}'.")
        return number

    def validate_agent(self, value: str) -> AgentProfile:
        value = value.strip()
        profile = None
        if is_id(value):
            profile = AgentProfile.objects.filter(pk=int(value)).first()
        if profile is None:
            profile = AgentProfile.objects.filter(name=value).first()
        if profile is None:
            raise serializers.ValidationError(f"No agent profile with id or name '{value}'.")
        return profile


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 instants; any offset is turned into UTC first (PostgreSQL refuses offsets
    beyond +-15:59 that ISO 8601 allows), so odd input is a filter, never a server error."""

    def filter(self, qs, value):
        if value is not None and value.tzinfo is not None:
            try:
                value = value.astimezone(UTC)
            except (OverflowError, ValueError):
                raise ValidationError({self.field_name: ["Enter a valid date and time."]}) from None
        return super().filter(qs, value)


class CallFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CallStatus.choices)
    direction = django_filters.ChoiceFilter(choices=Call.Direction.choices)
    campaign = IdFilter(field_name="campaign_attempt__campaign")
    number = django_filters.CharFilter(
        method="filter_number", help_text="The called or calling number (E.164 or national)."
    )
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Call
        fields = ["status", "direction", "campaign", "number", "created_after", "created_before"]

    def filter_number(self, queryset, name: str, value: str):
        try:
            e164 = normalize_phone_number(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"number": error.messages}) from None
        return queryset.filter(Q(to_number=e164) | Q(from_number=e164))


@extend_schema(tags=["calls"])
class CallViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Calls: place one, follow it, hang it up. Calls are never changed or deleted here."""

    serializer_class = CallSerializer
    filterset_class = CallFilter
    access = model_access(Call, read=ApiScope.CALLS_READ, write=ApiScope.CALLS_WRITE) | {
        "hangup": needs(ApiScope.CALLS_WRITE, "telephony.change_call"),
    }

    def get_queryset(self):
        queryset = Call.objects.select_related("caller_id", "agent_profile").annotate(
            campaign_id=F("campaign_attempt__campaign_id")
        )
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("events")
        return queryset

    def get_serializer_class(self):
        if self.action == "create":
            return CallCreateSerializer
        if self.action == "retrieve":
            return CallDetailSerializer
        return CallSerializer

    @extend_schema(
        request=CallCreateSerializer,
        responses={
            201: CallDetailSerializer,
            400: OpenApiResponse(description="Invalid input."),
            422: OpenApiResponse(description=REFUSED_HELP),
        },
        description="Queue one outbound call; a worker places it. Send an Idempotency-Key "
        "header to make retries safe: a repeated key returns the first answer. The dialing "
        "rules are checked now and again right before the call is dialed (" + REFUSED_HELP + ")",
    )
    def create(self, request, *args, **kwargs):
        def produce() -> Response:
            serializer = CallCreateSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            call = call_create(
                to_number=data["to_number"],
                caller_id=data["caller_id"],
                agent_profile=data["agent"],
                variables=data["variables"],
                labels=data["labels"],
                callee_timezone=data["callee_timezone"],
                source=CallEvent.Source.API,
            )
            call = (
                self.get_queryset().prefetch_related("events").get(pk=call.pk)
            )  # with its campaign and event
            return Response(CallDetailSerializer(call).data, status=status.HTTP_201_CREATED)

        return idempotent(request, produce)

    @extend_schema(
        request=None,
        responses={202: _outcome("CallHangupOutcome")},
        description="Ask for the call to end. The result says what was done: 'hanging up', "
        "'canceled' (not dialed yet), 'will hang up as soon as it is placed' or "
        "'already ended'.",
    )
    @action(detail=True, methods=["post"])
    def hangup(self, request, *args, **kwargs):
        call = self.get_object()
        result = call_hangup(call_id=call.pk, source=CallEvent.Source.API)
        return Response(
            {"result": result, "message": f"Call {call.pk}: {result}."},
            status=status.HTTP_202_ACCEPTED,
        )


def register(router) -> None:
    """Add this app's viewsets to the API router."""
    router.register("phone-numbers", PhoneNumberViewSet, basename="phone-number")
    router.register("agents", AgentProfileViewSet, basename="agent")
    router.register("calls", CallViewSet, basename="call")
