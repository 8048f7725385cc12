"""REST API for campaigns: create and edit them, start, pause, resume, cancel, follow progress.

Status changes go through `campaign_start/pause/resume/cancel`, edits through `campaign_update`
and deletion through `campaign_delete` (`campaigns.services.campaigns`), as in the admin: once
started, a campaign keeps its settings (only its name and analysis plan may change) and only
drafts can be deleted.
"""

from typing import Any

from django.http import Http404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from campaigns.models import WEEKDAYS, Campaign, CampaignContact, ContactList
from campaigns.services.callbacks import callback_cancel, callback_schedule
from campaigns.services.campaigns import (
    campaign_cancel,
    campaign_delete,
    campaign_duplicate,
    campaign_pause,
    campaign_progress,
    campaign_resume,
    campaign_settings_errors,
    campaign_start,
    campaign_update,
)
from contactcenter.api.auth import model_access, needs
from contactcenter.api.lookups import IntegerIdLookup
from contactcenter.api.schema import error_responses
from contactcenter.models import ApiScope
from telephony.models import AgentProfile, PhoneNumber
from telephony.outcomes import default_outcomes


@extend_schema_field(
    {
        # Inline (in allOf, which the enum hoisting leaves alone): a shared `StatusEnum`
        # component would collide with the calls' status (until ENUM_NAME_OVERRIDES names both).
        "allOf": [{"type": "string", "enum": Campaign.Status.values}],
        "description": "draft -> scheduled -> running <-> paused -> completed, or cancelled.",
        "readOnly": True,
    }
)
class CampaignStatusField(serializers.ChoiceField):
    """A campaign's status, read only: it changes through the start/pause/resume/cancel actions."""


class CampaignSerializer(serializers.ModelSerializer):
    """Validated like the admin's form; once started only `name` may change."""

    status = CampaignStatusField(choices=Campaign.Status.choices, read_only=True)

    agent_profile = serializers.PrimaryKeyRelatedField(queryset=AgentProfile.objects.all())
    caller_ids = serializers.PrimaryKeyRelatedField(
        many=True, queryset=PhoneNumber.objects.all(), help_text="Outbound phone numbers (ids)."
    )
    contact_lists = serializers.PrimaryKeyRelatedField(
        many=True, queryset=ContactList.objects.all(), required=False
    )
    weekdays = serializers.ListField(
        child=serializers.ChoiceField(choices=WEEKDAYS),
        required=False,
        help_text="0 = Monday ... 6 = Sunday; Monday to Friday when not sent.",
    )

    class Meta:
        model = Campaign
        fields = (
            "id",
            "status",
            "paused_reason",
            *Campaign.SETTINGS_FIELDS,
            "started_at",
            "finished_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "status", "paused_reason", "started_at", "finished_at",
                            "created_at", "updated_at")  # fmt: skip

    def validate_weekdays(self, value: list[int]) -> list[int]:
        return sorted({int(day) for day in value})

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            return attrs  # an update: campaign_update checks it (the view calls it)
        errors = campaign_settings_errors(
            window_start=attrs.get("window_start"),
            window_end=attrs.get("window_end"),
            start_at=attrs.get("start_at"),
            end_at=attrs.get("end_at"),
            caller_ids=attrs.get("caller_ids", ()),
            voicemail_policy=attrs.get("voicemail_policy"),
            voicemail_message=attrs.get("voicemail_message", ""),
            outcomes=attrs.get("outcomes", default_outcomes()),
            success_outcomes=attrs.get("success_outcomes", ["interested"]),
        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CancelSerializer(serializers.Serializer):
    hang_up = serializers.BooleanField(
        default=False, help_text="Also hang up the campaign's live calls now."
    )


class CallbackSerializer(serializers.Serializer):
    when = serializers.CharField(
        max_length=200,
        help_text="ISO 8601 (an offset, or the contact's local time without one) or words such "
        "as 'tomorrow at 3 pm', read in the contact's time zone.",
    )
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class CallbackAnswerSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    contact = serializers.IntegerField()
    status = serializers.CharField(help_text="The contact's status in the campaign.")
    callback_at = serializers.DateTimeField(
        allow_null=True, help_text="When it is called back (UTC), inside its calling window."
    )
    requested = serializers.DateTimeField(required=False, help_text="The instant asked for.")
    moved = serializers.BooleanField(
        required=False, help_text="Moved to the next opening of the contact's calling window."
    )
    time_zone = serializers.CharField(required=False)
    message = serializers.CharField()


class CampaignProgressSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    status = serializers.CharField()
    planned = serializers.BooleanField(
        help_text="Not started yet: `contacts` counts the contacts its lists would give it."
    )
    contacts = serializers.IntegerField()
    by_contact_status = serializers.DictField(child=serializers.IntegerField())
    dialed = serializers.IntegerField()
    remaining = serializers.IntegerField()
    done = serializers.IntegerField(help_text="Contacts finished (cancelled ones are not done).")
    cancelled = serializers.IntegerField(help_text="Contacts a cancellation stopped.")
    percent_done = serializers.FloatField()
    live_calls = serializers.IntegerField()
    calls = serializers.IntegerField()
    calls_by_status = serializers.DictField(child=serializers.IntegerField())
    max_concurrent_calls = serializers.IntegerField()
    account_cap = serializers.IntegerField()
    waiting = serializers.ListField(
        child=serializers.CharField(),
        help_text="Why it is not calling (more) now, in words: contacts waiting for their calling "
        "window or a retry, lines or the pace in use, no caller ID, paused, not started yet.",
    )


CONTROL_RESPONSES = {200: CampaignSerializer, **error_responses(400, 404)}


@extend_schema_view(
    list=extend_schema(summary="List campaigns"),
    retrieve=extend_schema(
        summary="Get a campaign", responses={200: CampaignSerializer, **error_responses(404)}
    ),
    create=extend_schema(
        summary="Create a campaign (a draft)",
        responses={201: CampaignSerializer, **error_responses(400)},
    ),
    update=extend_schema(
        summary="Replace a campaign (drafts; paused ones: not their lists or agent; others: "
        "name only)",
        responses={200: CampaignSerializer, **error_responses(400, 404)},
    ),
    partial_update=extend_schema(
        summary="Update a campaign (drafts; paused ones: not their lists or agent; others: "
        "name only)",
        responses={200: CampaignSerializer, **error_responses(400, 404)},
    ),
    destroy=extend_schema(
        summary="Delete a draft campaign", responses={204: None, **error_responses(400, 404)}
    ),
)
@extend_schema(tags=["campaigns"])
class CampaignViewSet(IntegerIdLookup, viewsets.ModelViewSet):
    serializer_class = CampaignSerializer
    filterset_fields = ("status",)
    access = model_access(
        Campaign, read=ApiScope.CAMPAIGNS_READ, write=ApiScope.CAMPAIGNS_WRITE
    ) | {
        "start": needs(ApiScope.CAMPAIGNS_WRITE, "campaigns.change_campaign"),
        "pause": needs(ApiScope.CAMPAIGNS_WRITE, "campaigns.change_campaign"),
        "resume": needs(ApiScope.CAMPAIGNS_WRITE, "campaigns.change_campaign"),
        "cancel": needs(ApiScope.CAMPAIGNS_WRITE, "campaigns.change_campaign"),
        "duplicate": needs(ApiScope.CAMPAIGNS_WRITE, "campaigns.add_campaign"),
        "stats": needs(ApiScope.CAMPAIGNS_READ, "campaigns.view_campaign"),
        "callback": needs(ApiScope.CAMPAIGNS_WRITE, "campaigns.change_campaign"),
    }

    def get_queryset(self):
        return Campaign.objects.prefetch_related("caller_ids", "contact_lists")

    def perform_update(self, serializer: CampaignSerializer) -> None:
        serializer.instance = campaign_update(
            campaign=serializer.instance, changes=serializer.validated_data
        )

    def perform_destroy(self, instance: Campaign) -> None:
        campaign_delete(campaign=instance)

    def _campaign(self) -> Campaign:
        return get_object_or_404(Campaign, pk=self.kwargs["pk"])

    def _answer(self, campaign: Campaign) -> Response:
        fresh = self.get_queryset().get(pk=campaign.pk)
        return Response(CampaignSerializer(fresh, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Start a campaign",
        description="Refused (400) with every problem listed (`error.messages`) when the "
        "campaign cannot start; scheduled when its start time is in the future.",
        request=None,
        responses=CONTROL_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._answer(campaign_start(campaign=self._campaign()))

    @extend_schema(summary="Pause a campaign", request=None, responses=CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._answer(campaign_pause(campaign=self._campaign()))

    @extend_schema(summary="Resume a paused campaign", request=None, responses=CONTROL_RESPONSES)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._answer(campaign_resume(campaign=self._campaign()))

    @extend_schema(
        summary="Cancel a campaign for good", request=CancelSerializer, responses=CONTROL_RESPONSES
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        campaign = campaign_cancel(
            campaign=self._campaign(), hang_up=body.validated_data["hang_up"]
        )
        return self._answer(campaign)

    @extend_schema(
        summary="Duplicate a campaign as a new draft",
        description="Every setting is copied, contact lists and caller IDs included; the copy "
        "is named `Copy of <name>` and can be changed before it starts.",
        request=None,
        responses={201: CampaignSerializer, **error_responses(404)},
    )
    @action(detail=True, methods=["post"])
    def duplicate(self, request, pk=None):
        copy = campaign_duplicate(campaign=self._campaign())
        response = self._answer(copy)
        response.status_code = status.HTTP_201_CREATED
        return response

    @extend_schema(
        summary="A campaign's progress",
        responses={200: CampaignProgressSerializer, **error_responses(404)},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request, pk=None):
        return Response(campaign_progress(self._campaign()))

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "contact_id", int, OpenApiParameter.PATH, description="The contact's id."
            )
        ],
    )
    @extend_schema(
        methods=["POST"],
        summary="Schedule or move a contact's callback",
        description="The contact (`contact_id`: the contact's id) is called again at that time, "
        "or at the next opening of its calling window when the time falls outside it. A "
        "callback does not use up an attempt; at most the campaign's `max_callbacks`. Refused "
        "(400, saying why) for a finished campaign, a contact on the do-not-call list or "
        "finished for good, a time in the past or more than 90 days ahead.",
        request=CallbackSerializer,
        responses={200: CallbackAnswerSerializer, **error_responses(400, 404)},
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Cancel a contact's callback",
        description="The contact goes back to its retries (or is exhausted).",
        request=None,
        responses={200: CallbackAnswerSerializer, **error_responses(400, 404)},
    )
    @action(
        detail=True,
        methods=["post", "delete"],
        url_path=r"contacts/(?P<contact_id>[^/.]+)/callback",
        filter_backends=[],
        pagination_class=None,
    )
    def callback(self, request, pk=None, contact_id=None):
        if not (str(pk).isdigit() and str(contact_id).isdigit()):
            raise Http404
        entry = get_object_or_404(CampaignContact, campaign_id=pk, contact_id=contact_id)
        if request.method == "DELETE":
            entry = callback_cancel(entry_id=entry.pk)
            return Response(_callback_answer(entry, message="Callback cancelled."))
        body = CallbackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        scheduled = callback_schedule(entry_id=entry.pk, **body.validated_data)
        return Response(
            _callback_answer(scheduled.entry, message=scheduled.describe())
            | {
                "requested": scheduled.requested,
                "moved": scheduled.moved,
                "time_zone": scheduled.zone.key,
            }
        )


def _callback_answer(entry: CampaignContact, *, message: str) -> dict:
    return {
        "campaign": entry.campaign_id,
        "contact": entry.contact_id,
        "status": entry.status,
        "callback_at": entry.callback_at,
        "message": message,
    }
