"""REST API for calls: creating one (the dialing rules apply, as on every path), reading and
filtering them, hanging up; through `telephony.services.calls`.
"""

from datetime import UTC
from typing import Any

import django_filters
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Q
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from contactcenter.api.auth import model_access, needs
from contactcenter.api.idempotency import idempotent
from contactcenter.api.lookups import IdFilter, is_id
from contactcenter.api.schema import error_responses, outcome_response
from contactcenter.models import ApiScope
from telephony.agora.redaction import redact
from telephony.models import AgentProfile, Call, CallEvent, PhoneNumber
from telephony.services.calls import (
    SUPERVISOR_ACTIONS,
    call_create,
    call_hangup,
    call_supervise,
)
from telephony.states import CallStatus
from telephony.validators import normalize_phone_number

REFUSED_HELP = (
    "422: refused by the dialing rules, with `error.code` naming the rule: `do_not_call`, "
    "`call_frequency` (the number's calls in 24 hours / 7 days reached the limit), "
    "`calling_hours` (outside 08:00-21:00 in the callee's local time, by default), "
    "`regional_hours` (outside the hours of the callee's state or province that day), "
    "`public_holiday`, `blackout_date` (a company day without calls) or `destination` (a "
    "country not allowed, or a premium-rate, shared-cost or similar number); the message says "
    "when the call would next be allowed."
)


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
            "outcome",
            "outcome_fields",
            "voicemail_policy",
            "voicemail_detected_at",
            "voicemail_detected_by",
            "last_error",
            "queued_at",
            "scheduled_for",
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
    analysis = serializers.SerializerMethodField(
        help_text="What the conversation achieved (post-call analysis), once analysed; null "
        "before. Its fields: disposition, disposition_source (analyzer or agent), summary, "
        "success, success_reason, opt_out, callback_at, fields, analyzer, analyzed_at."
    )

    class Meta(CallSerializer.Meta):
        fields = [*CallSerializer.Meta.fields, "events", "transcript", "turn_metrics", "analysis"]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "nullable": True})
    def get_analysis(self, call: Call) -> dict | None:
        from contactcenter.crm_webhooks.events import analysis_data

        try:
            return analysis_data(call.analysis)  # the analysis app's one-to-one relation
        except ObjectDoesNotExist:
            return None


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
    callee_region = serializers.CharField(
        max_length=6,
        required=False,
        allow_blank=True,
        default="",
        help_text="The callee's country and state or province (e.g. US-TX), for the regional "
        "calling hours and public holidays. Without it, the number's area code's.",
    )
    scheduled_for = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Place it later, at this instant (ISO 8601 with an offset); the dialing rules "
        "are checked for that time, and again right before it is dialed. At most 90 days ahead.",
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


class CallControlSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=SUPERVISOR_ACTIONS)
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    priority = serializers.ChoiceField(
        choices=["INTERRUPT", "APPEND", "IGNORE"], required=False, default="INTERRUPT"
    )
    interruptable = serializers.BooleanField(required=False, default=True)


class CallFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=CallStatus.choices)
    direction = django_filters.ChoiceFilter(choices=Call.Direction.choices)
    campaign = IdFilter(field_name="campaign_attempt__campaign")
    # The post-call analysis (the analysis app) is the call's `analysis` relation.
    disposition = django_filters.CharFilter(
        field_name="analysis__disposition", help_text="Calls whose analysis has this disposition."
    )
    number = django_filters.CharFilter(
        method="filter_number", help_text="The called or calling number (E.164 or national)."
    )
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Call
        fields = [
            "status", "direction", "campaign", "disposition", "number", "created_after",
            "created_before",
        ]  # fmt: skip

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
        "control": needs(ApiScope.CALLS_CONTROL, "telephony.control_call"),
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
                callee_region=data["callee_region"],
                scheduled_for=data["scheduled_for"],
                source=CallEvent.Source.API,
                requested_by=_requester(request),
            )
            call = (
                self.get_queryset().prefetch_related("events").get(pk=call.pk)
            )  # with its campaign and event
            return Response(CallDetailSerializer(call).data, status=status.HTTP_201_CREATED)

        return idempotent(request, produce)

    @extend_schema(
        request=CallControlSerializer,
        responses={200: outcome_response("CallControlOutcome"), **error_responses(400, 404)},
        description="A supervisor on a live answered call: `speak` a sentence (the agent says "
        "it), `think` (an instruction the agent follows as if the callee had said it) or "
        "`interrupt` the agent. Refused (400) unless the call is answered.",
    )
    @action(detail=True, methods=["post"])
    def control(self, request, *args, **kwargs):
        call = self.get_object()
        body = CallControlSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        who = _requester(request)
        result = call_supervise(call_id=call.pk, who=who, source=CallEvent.Source.API,
                                **body.validated_data)  # fmt: skip
        return Response({"result": result, "message": f"Call {call.pk}: {result}."})

    @extend_schema(
        request=None,
        responses={202: outcome_response("CallHangupOutcome")},
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


def _requester(request) -> str:
    """Who is asking, for the audit: the API key's name, or the signed-in user."""
    return f"API key {request.auth.name}" if hasattr(request.auth, "name") else str(request.user)
