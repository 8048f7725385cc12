"""REST API for campaigns: contact lists, contacts, do-not-call, campaigns.

Views parse input, call one service and serialize the result, as the admin does:
- contacts are written with `contact_upsert` (one at a time, or in bulk with a per-row report);
- the do-not-call list with `dnc_add` / `dnc_remove` / `dnc_contains`;
- campaign status changes with `campaign_start/pause/resume/cancel`; once started, a campaign
  keeps its settings (only its name may change) and only drafts can be deleted.
Every list is a fixed number of queries whatever the page size (select/prefetch/annotate).
"""

import contextlib
import io
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from campaigns.models import WEEKDAYS, Campaign, Contact, ContactList, DoNotCall
from campaigns.services.campaigns import (
    ACTIVE_STATUSES,
    campaign_cancel,
    campaign_pause,
    campaign_progress,
    campaign_resume,
    campaign_settings_errors,
    campaign_start,
)
from campaigns.services.contacts import (
    CONTACT_FIELDS,
    CsvFileError,
    contact_upsert,
    read_csv,
)
from campaigns.services.dnc import dnc_add, dnc_contains, dnc_remove
from campaigns.services.imports import MAX_ERRORS
from contactcenter.api.auth import model_access, needs
from contactcenter.api.errors import error_response
from contactcenter.api.lookups import IntegerIdLookup
from contactcenter.api.parsers import BoundedJSONParser
from contactcenter.models import ApiScope
from telephony.models import AgentProfile, PhoneNumber
from telephony.validators import normalize_phone_number

BULK_MAX_ROWS = 10_000  # rows per bulk upsert request
BULK_BATCH = 500  # rows per transaction (each row in its own savepoint)
LOCKED_MESSAGE = (
    "This campaign is {status}: it keeps the settings it was started with, so only its name "
    "can change. To call with other settings, create a new campaign."
)
ERROR_RESPONSE = inline_serializer(
    "ErrorResponse",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.ListField()),
                "messages": serializers.ListField(child=serializers.CharField(), required=False),
            },
        )
    },
)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ERROR_RESPONSE) for code in codes}


# -- contact lists ----------------------------------------------------------------------------


class ContactListSerializer(serializers.ModelSerializer):
    contact_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ContactList
        fields = ("id", "name", "description", "contact_count", "created_at")
        read_only_fields = ("id", "created_at")

    def to_representation(self, instance: ContactList) -> dict[str, Any]:
        if not hasattr(instance, "contact_count"):  # lists annotate it; a fresh write counts
            instance.contact_count = instance.contacts.count()
        return super().to_representation(instance)


class ContactSerializer(serializers.ModelSerializer):
    variables = serializers.DictField(read_only=True)

    class Meta:
        model = Contact
        fields = (
            "id",
            "contact_list",
            "phone",
            "first_name",
            "last_name",
            "external_id",
            "timezone",
            "variables",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class ContactRowSerializer(serializers.Serializer):
    """One row of a bulk upsert (JSON); checked row by row, never the request as a whole."""

    phone = serializers.CharField()
    first_name = serializers.CharField(required=False, allow_blank=True, default="")
    last_name = serializers.CharField(required=False, allow_blank=True, default="")
    external_id = serializers.CharField(required=False, allow_blank=True, default="")
    timezone = serializers.CharField(required=False, allow_blank=True, default="")
    variables = serializers.DictField(required=False, default=dict)


class BulkContactsSerializer(serializers.Serializer):
    contacts = ContactRowSerializer(many=True, help_text=f"At most {BULK_MAX_ROWS} rows.")


class BulkErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1-based position of the row in the request.")
    line = serializers.IntegerField(required=False, help_text="CSV only: line in the body.")
    field = serializers.CharField(required=False)
    message = serializers.CharField()


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    invalid = serializers.IntegerField()
    errors = BulkErrorSerializer(many=True, help_text=f"The first {MAX_ERRORS}.")


class CsvParser(BaseParser):
    """`text/csv`: the raw bytes, read by `read_csv` like an upload."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return stream.read() if stream is not None else b""


class _TooManyRows(Exception):
    pass


def _json_rows(data: Any) -> list[tuple[int, int | None, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("contacts"), list):
        raise DjangoValidationError({"contacts": ["Send {'contacts': [{...}, ...]}."]})
    rows = data["contacts"]
    if len(rows) > BULK_MAX_ROWS:
        raise _TooManyRows(len(rows))
    return [(index, None, row) for index, row in enumerate(rows, start=1)]


def _csv_rows(body: bytes) -> list[tuple[int, int | None, Any]]:
    columns, rows = read_csv(io.BytesIO(body), required=("phone",))
    width, out = len(columns), []
    for index, row in enumerate(rows, start=1):
        if index > BULK_MAX_ROWS:
            raise _TooManyRows(index)
        if row.extra_cells:
            item: Any = (
                f"has {width + row.extra_cells} cells but the header names {width} columns "
                "(a value with the delimiter in it must be in double quotes)."
            )
        else:
            values = row.values
            item = {name: values.get(name, "") for name in ("phone", *CONTACT_FIELDS)}
            item["variables"] = {
                key: value
                for key, value in values.items()
                if value and key != "phone" and key not in CONTACT_FIELDS
            }
        out.append((index, row.line, item))
    return out


def _row_errors(row: int, line: int | None, detail: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for field, messages in detail.items():
        for message in messages if isinstance(messages, list) else [messages]:
            if isinstance(message, dict):  # a nested serializer error (never for these rows)
                message = "; ".join(f"{k}: {v}" for k, v in message.items())
            entry: dict[str, Any] = {"row": row}
            if line is not None:
                entry["line"] = line
            if field not in ("non_field_errors", "__all__"):
                entry["field"] = field
            entry["message"] = str(message)
            found.append(entry)
    return found


def bulk_upsert(contact_list: ContactList, rows: list[tuple[int, int | None, Any]]) -> dict:
    """Upsert each valid row with `contact_upsert` (a savepoint each, a transaction per batch);
    invalid rows are reported and skipped, the others saved."""
    phones, external_ids = set(), set()
    for _, _, item in rows:
        if isinstance(item, dict):
            with contextlib.suppress(DjangoValidationError):
                phones.add(normalize_phone_number(str(item.get("phone") or "")))
            if item.get("external_id"):
                external_ids.add(str(item["external_id"]).strip())
    known = set(
        Contact.objects.filter(contact_list=contact_list)
        .filter(Q(phone__in=phones) | Q(external_id__in=external_ids))
        .values_list("id", flat=True)
    )
    result: dict[str, Any] = {"created": 0, "updated": 0, "invalid": 0, "errors": []}

    def reject(row: int, line: int | None, detail: dict[str, Any]) -> None:
        result["invalid"] += 1
        room = MAX_ERRORS - len(result["errors"])
        if room > 0:
            result["errors"].extend(_row_errors(row, line, detail)[:room])

    for start in range(0, len(rows), BULK_BATCH):
        with transaction.atomic():
            for row, line, item in rows[start : start + BULK_BATCH]:
                if isinstance(item, str):
                    reject(row, line, {"non_field_errors": [item]})
                    continue
                checked = ContactRowSerializer(data=item)
                if not checked.is_valid():
                    reject(row, line, checked.errors)
                    continue
                try:
                    contact = contact_upsert(contact_list=contact_list, **checked.validated_data)
                except DjangoValidationError as error:
                    detail = (
                        error.message_dict
                        if hasattr(error, "error_dict")
                        else {"non_field_errors": error.messages}
                    )
                    reject(row, line, detail)
                    continue
                if contact.pk in known:
                    result["updated"] += 1
                else:
                    result["created"] += 1
                    known.add(contact.pk)
    return result


@extend_schema_view(
    list=extend_schema(summary="List contact lists"),
    retrieve=extend_schema(
        summary="Get a contact list", responses={200: ContactListSerializer, **_errors(404)}
    ),
    create=extend_schema(summary="Create a contact list"),
    update=extend_schema(summary="Replace a contact list"),
    partial_update=extend_schema(summary="Update a contact list"),
    destroy=extend_schema(
        summary="Delete a contact list and its contacts",
        description="Refused (400) while an active (scheduled, running, paused) campaign uses it.",
        responses={204: None, **_errors(400, 404)},
    ),
)
class ContactListViewSet(IntegerIdLookup, viewsets.ModelViewSet):
    serializer_class = ContactListSerializer
    # The bulk upsert is the CSV import of the admin, which needs the list's change permission.
    access = model_access(
        ContactList, read=ApiScope.CONTACTS_READ, write=ApiScope.CONTACTS_WRITE
    ) | {"bulk": needs(ApiScope.CONTACTS_WRITE, "campaigns.change_contactlist")}

    def get_queryset(self):
        return ContactList.objects.annotate(contact_count=Count("contacts"))

    def perform_destroy(self, instance: ContactList) -> None:
        names = list(
            instance.campaigns.filter(status__in=ACTIVE_STATUSES).values_list("name", flat=True)[:3]
        )
        if names:
            raise DjangoValidationError(
                f"The list '{instance.name}' is used by active campaign(s): {', '.join(names)}. "
                "Cancel them (or let them complete) before deleting it."
            )
        instance.delete()

    @extend_schema(
        summary="Create or update many contacts of the list",
        description=(
            'JSON `{"contacts": [...]}` or a CSV body (`Content-Type: text/csv`, the columns of '
            "the CSV import; other columns become variables). A row is matched by `external_id` "
            "when given and known in the list, else by phone. Valid rows are saved even when "
            f"others are invalid; each invalid row is reported. At most {BULK_MAX_ROWS} rows."
        ),
        request={"application/json": BulkContactsSerializer, "text/csv": OpenApiTypes.STR},
        responses={200: BulkResultSerializer, **_errors(400, 404, 413)},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="contacts/bulk",
        parser_classes=[BoundedJSONParser, CsvParser],
    )
    def bulk(self, request, pk=None):
        contact_list = self.get_object()
        try:
            if isinstance(request.data, bytes):
                rows = _csv_rows(request.data)
            else:
                rows = _json_rows(request.data)
        except _TooManyRows:
            return error_response(
                "too_many_rows",
                f"At most {BULK_MAX_ROWS} rows per request: split the contacts into several "
                "requests (or use a CSV import).",
                status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        except CsvFileError as error:
            return error_response("invalid_file", error.message)
        return Response(bulk_upsert(contact_list, rows))


# -- contacts ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List contacts",
        parameters=[OpenApiParameter("contact_list", int, description="Only this list's.")],
    ),
    retrieve=extend_schema(
        summary="Get a contact", responses={200: ContactSerializer, **_errors(404)}
    ),
    destroy=extend_schema(
        summary="Delete a contact",
        description="Refused (400) while the contact is enrolled in an active campaign.",
        responses={204: None, **_errors(400, 404)},
    ),
)
class ContactViewSet(
    IntegerIdLookup,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ContactSerializer
    queryset = Contact.objects.all()
    filterset_fields = ("contact_list", "phone", "external_id")
    access = model_access(Contact, read=ApiScope.CONTACTS_READ, write=ApiScope.CONTACTS_WRITE)

    def perform_destroy(self, instance: Contact) -> None:
        if instance.campaign_entries.filter(campaign__status__in=ACTIVE_STATUSES).exists():
            raise DjangoValidationError(
                "This contact is enrolled in an active campaign: cancel the campaign (or let it "
                "complete) before deleting it, so every call stays accounted for."
            )
        instance.delete()


# -- do-not-call ------------------------------------------------------------------------------


class DoNotCallSerializer(serializers.ModelSerializer):
    class Meta:
        model = DoNotCall
        fields = ("phone", "reason", "source", "created_at")
        read_only_fields = ("source", "created_at")
        extra_kwargs = {"phone": {"validators": []}}  # adding again is allowed (idempotent)

    def validate_phone(self, value: str) -> str:
        try:
            return normalize_phone_number(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None


class DncCheckSerializer(serializers.Serializer):
    phone = serializers.CharField()
    blocked = serializers.BooleanField()


class DncPhoneParamSerializer(serializers.Serializer):
    phone = serializers.CharField()

    def validate_phone(self, value: str) -> str:
        try:
            return normalize_phone_number(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None


PHONE_PATH = OpenApiParameter(
    "phone",
    str,
    OpenApiParameter.PATH,
    description="E.164 (+14155550100) or national (415 555 0100, in PHONE_DEFAULT_REGION).",
)


@extend_schema_view(
    list=extend_schema(summary="List the do-not-call numbers"),
    create=extend_schema(
        summary="Add a number to the do-not-call list",
        description="Idempotent: 201 when added, 200 when it was already listed. Waiting "
        "campaign contacts of the number are taken out of their campaigns.",
        responses={201: DoNotCallSerializer, 200: DoNotCallSerializer, **_errors(400)},
    ),
    destroy=extend_schema(
        summary="Remove a number from the do-not-call list",
        parameters=[PHONE_PATH],
        responses={204: None, **_errors(400, 404)},
    ),
)
class DoNotCallViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = DoNotCallSerializer
    queryset = DoNotCall.objects.all()
    lookup_field = "phone"
    lookup_value_regex = "[^/]+"
    filterset_fields = ("source",)
    access = model_access(DoNotCall, read=ApiScope.DNC_READ, write=ApiScope.DNC_WRITE) | {
        "check": needs(ApiScope.DNC_READ, "campaigns.view_donotcall"),
    }

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        phone = serializer.validated_data["phone"]
        existed = DoNotCall.objects.filter(phone=phone).exists()
        entry = dnc_add(
            phone=phone,
            reason=serializer.validated_data.get("reason", ""),
            source=DoNotCall.Source.API,
        )
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(self.get_serializer(entry).data, status=code)

    def destroy(self, request, *args, **kwargs):
        param = DncPhoneParamSerializer(data={"phone": kwargs.get("phone", "")})
        param.is_valid(raise_exception=True)
        if not dnc_remove(phone=param.validated_data["phone"]):
            return error_response(
                "not_found",
                f"{param.validated_data['phone']} is not on the do-not-call list.",
                status_code=status.HTTP_404_NOT_FOUND,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Is a number on the do-not-call list?",
        parameters=[
            OpenApiParameter("phone", str, required=True, description="E.164 or national.")
        ],
        responses={200: DncCheckSerializer, **_errors(400)},
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def check(self, request):
        param = DncPhoneParamSerializer(data={"phone": request.query_params.get("phone", "")})
        param.is_valid(raise_exception=True)
        phone = param.validated_data["phone"]
        return Response({"phone": phone, "blocked": dnc_contains(phone)})


# -- campaigns --------------------------------------------------------------------------------


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
        help_text="0 = Monday ... 6 = Sunday.",
    )

    class Meta:
        model = Campaign
        fields = (
            "id",
            "status",
            *Campaign.SETTINGS_FIELDS,
            "started_at",
            "finished_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "status", "started_at", "finished_at", "created_at", "updated_at")

    def validate_weekdays(self, value: list[int]) -> list[int]:
        return sorted({int(day) for day in value})

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        if instance is not None and instance.status != Campaign.Status.DRAFT:
            changed = sorted(name for name in attrs if name != "name")
            if changed:
                raise serializers.ValidationError(
                    LOCKED_MESSAGE.format(status=instance.get_status_display().lower())
                    + f" (sent: {', '.join(changed)})"
                )

        def value(name: str):
            return attrs.get(name, getattr(instance, name, None) if instance else None)

        errors = campaign_settings_errors(
            window_start=value("window_start"),
            window_end=value("window_end"),
            start_at=value("start_at"),
            end_at=value("end_at"),
            caller_ids=attrs.get("caller_ids", ()),
        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def update(self, instance: Campaign, validated_data: dict[str, Any]) -> Campaign:
        """Only the fields sent: the dispatcher writes status and pacing fields concurrently."""
        many = {
            name: validated_data.pop(name)
            for name in ("caller_ids", "contact_lists")
            if name in validated_data
        }
        with transaction.atomic():
            for name, field_value in validated_data.items():
                setattr(instance, name, field_value)
            instance.save(update_fields=[*validated_data, "updated_at"])
            for name, items in many.items():
                getattr(instance, name).set(items)
        return instance


class CancelSerializer(serializers.Serializer):
    hang_up = serializers.BooleanField(
        default=False, help_text="Also hang up the campaign's live calls now."
    )


class CampaignProgressSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    status = serializers.CharField()
    contacts = serializers.IntegerField()
    by_contact_status = serializers.DictField(child=serializers.IntegerField())
    dialed = serializers.IntegerField()
    remaining = serializers.IntegerField()
    done = serializers.IntegerField()
    percent_done = serializers.FloatField()
    live_calls = serializers.IntegerField()
    calls = serializers.IntegerField()
    calls_by_status = serializers.DictField(child=serializers.IntegerField())
    max_concurrent_calls = serializers.IntegerField()
    account_cap = serializers.IntegerField()


CONTROL_RESPONSES = {200: CampaignSerializer, **_errors(400, 404)}


@extend_schema_view(
    list=extend_schema(summary="List campaigns"),
    retrieve=extend_schema(
        summary="Get a campaign", responses={200: CampaignSerializer, **_errors(404)}
    ),
    create=extend_schema(
        summary="Create a campaign (a draft)", responses={201: CampaignSerializer, **_errors(400)}
    ),
    update=extend_schema(
        summary="Replace a campaign (drafts; started ones: name only)",
        responses={200: CampaignSerializer, **_errors(400, 404)},
    ),
    partial_update=extend_schema(
        summary="Update a campaign (drafts; started ones: name only)",
        responses={200: CampaignSerializer, **_errors(400, 404)},
    ),
    destroy=extend_schema(
        summary="Delete a draft campaign", responses={204: None, **_errors(400, 404)}
    ),
)
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
        "stats": needs(ApiScope.CAMPAIGNS_READ, "campaigns.view_campaign"),
    }

    def get_queryset(self):
        return Campaign.objects.prefetch_related("caller_ids", "contact_lists")

    def perform_destroy(self, instance: Campaign) -> None:
        if instance.status != Campaign.Status.DRAFT:
            raise DjangoValidationError(
                f"Only draft campaigns can be deleted; this one is "
                f"{instance.get_status_display().lower()} (cancel it instead: its contacts and "
                "calls stay accounted for)."
            )
        instance.delete()

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
        summary="A campaign's progress", responses={200: CampaignProgressSerializer, **_errors(404)}
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request, pk=None):
        return Response(campaign_progress(self._campaign()))


def register(router) -> None:
    """Add this app's viewsets to the API router."""
    router.register("contact-lists", ContactListViewSet, basename="contact-list")
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("do-not-call", DoNotCallViewSet, basename="do-not-call")
    router.register("campaigns", CampaignViewSet, basename="campaign")
