"""REST API for contact lists and their contacts, one at a time or in bulk.

Views parse input, call one service and serialize the result, as the admin does: contacts are
written with `contacts_bulk_upsert` (each row with `contact_upsert`, with a per-row report),
lists and contacts deleted with `contact_list_delete` and `contact_delete`.
Every list is a fixed number of queries whatever the page size (select/prefetch/annotate).
"""

import io
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from campaigns.models import Contact, ContactList
from campaigns.services.contacts import (
    CONSENT_FIELDS,
    CONTACT_FIELDS,
    BulkRow,
    CsvFileError,
    contact_delete,
    contact_list_delete,
    contacts_bulk_upsert,
    read_csv,
)
from campaigns.services.imports import MAX_ERRORS
from contactcenter.api.auth import model_access, needs
from contactcenter.api.errors import error_response
from contactcenter.api.lookups import IntegerIdLookup
from contactcenter.api.parsers import BoundedJSONParser
from contactcenter.api.schema import error_responses
from contactcenter.models import ApiScope

BULK_MAX_ROWS = 10_000  # rows per bulk upsert request


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
            "region",
            "consent",
            "consent_at",
            "consent_source",
            "consent_evidence",
            "consent_revoked_at",
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
    region = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Country and state or province (e.g. US-TX) for the regional calling hours "
        "and holidays; empty: the number's area code's.",
    )
    consent = serializers.JSONField(  # true/false, or the CSV's words (checked by the service)
        required=False,
        default=None,
        help_text="Prior express consent to calls by an AI agent: yes or no (true/false); "
        "absent: unchanged. A campaign requiring consent calls only contacts with it.",
    )
    consent_at = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default=None,
        help_text="When it was given (ISO 8601).",
    )  # fmt: skip
    consent_source = serializers.CharField(required=False, allow_blank=True, default="")
    consent_evidence = serializers.CharField(required=False, allow_blank=True, default="")
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


def _bulk_row(position: int, line: int | None, item: Any) -> BulkRow:
    """A row checked for shape (a text item is the reason it cannot be read)."""
    if isinstance(item, str):
        return BulkRow(position, line, errors={"non_field_errors": [item]})
    checked = ContactRowSerializer(data=item)
    if not checked.is_valid():
        return BulkRow(position, line, errors=checked.errors)
    return BulkRow(position, line, fields=dict(checked.validated_data))


def _json_rows(data: Any) -> list[BulkRow]:
    if not isinstance(data, dict) or not isinstance(data.get("contacts"), list):
        raise DjangoValidationError({"contacts": ["Send {'contacts': [{...}, ...]}."]})
    rows = data["contacts"]
    if len(rows) > BULK_MAX_ROWS:
        raise _TooManyRows(len(rows))
    return [_bulk_row(index, None, row) for index, row in enumerate(rows, start=1)]


def _csv_rows(body: bytes) -> list[BulkRow]:
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
            known = ("phone", *CONTACT_FIELDS, *CONSENT_FIELDS)
            item = {name: values.get(name, "") for name in known}
            item["variables"] = {
                key: value for key, value in values.items() if value and key not in known
            }
        out.append(_bulk_row(index, row.line, item))
    return out


@extend_schema_view(
    list=extend_schema(summary="List contact lists"),
    retrieve=extend_schema(
        summary="Get a contact list", responses={200: ContactListSerializer, **error_responses(404)}
    ),
    create=extend_schema(summary="Create a contact list"),
    update=extend_schema(summary="Replace a contact list"),
    partial_update=extend_schema(summary="Update a contact list"),
    destroy=extend_schema(
        summary="Delete a contact list and its contacts",
        description="Refused (400) once a started campaign uses it or has enrolled its "
        "contacts: a campaign keeps its contacts and their calls.",
        responses={204: None, **error_responses(400, 404)},
    ),
)
@extend_schema(tags=["contact lists"])
class ContactListViewSet(IntegerIdLookup, viewsets.ModelViewSet):
    serializer_class = ContactListSerializer
    # The bulk upsert is the CSV import of the admin, which needs the list's change permission.
    access = model_access(
        ContactList, read=ApiScope.CONTACTS_READ, write=ApiScope.CONTACTS_WRITE
    ) | {"bulk": needs(ApiScope.CONTACTS_WRITE, "campaigns.change_contactlist")}

    def get_queryset(self):
        return ContactList.objects.annotate(contact_count=Count("contacts"))

    def perform_destroy(self, instance: ContactList) -> None:
        contact_list_delete(contact_list=instance)

    @extend_schema(
        summary="Create or update many contacts of the list",
        description=(
            'JSON `{"contacts": [...]}` or a CSV body (`Content-Type: text/csv`, the columns of '
            "the CSV import; other columns become variables). A row is matched by `external_id` "
            "when given and known in the list, else by phone. Valid rows are saved even when "
            f"others are invalid; each invalid row is reported. At most {BULK_MAX_ROWS} rows."
        ),
        request={"application/json": BulkContactsSerializer, "text/csv": OpenApiTypes.STR},
        responses={200: BulkResultSerializer, **error_responses(400, 404, 413)},
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
        return Response(contacts_bulk_upsert(contact_list=contact_list, rows=rows))


# -- contacts ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List contacts",
        parameters=[OpenApiParameter("contact_list", int, description="Only this list's.")],
    ),
    retrieve=extend_schema(
        summary="Get a contact", responses={200: ContactSerializer, **error_responses(404)}
    ),
    destroy=extend_schema(
        summary="Delete a contact",
        description="Refused (400) once a campaign has enrolled the contact: a campaign keeps "
        "its contacts and their calls.",
        responses={204: None, **error_responses(400, 404)},
    ),
)
@extend_schema(tags=["contacts"])
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
        contact_delete(contact=instance)
